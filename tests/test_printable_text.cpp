#include <portpool/printable_text.hpp>

#include <catch2/catch.hpp>

#include <string>

using portpool::printable_text;

TEST_CASE("printable ASCII and UTF-8 characters are kept as they are") {
  CHECK(printable_text("web-1 http /health") == "web-1 http /health");
  CHECK(printable_text("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80") == "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80");
  CHECK(printable_text("\xc2\xa0") == "\xc2\xa0");  // U+00A0, the first character past C1
  CHECK(printable_text("a\\x1b") == "a\\x1b");      // a backslash stays: escaping twice is escaping once
  CHECK(printable_text("").empty());
}

TEST_CASE("C0 control characters and DEL become \\xNN") {
  CHECK(printable_text("\x1b]0;PWNED\x07\x1b[2J") == "\\x1b]0;PWNED\\x07\\x1b[2J");
  CHECK(printable_text("one\ntwo\tthree\rfour") == "one\\x0atwo\\x09three\\x0dfour");
  CHECK(printable_text(std::string("a\0b", 3)) == "a\\x00b");
  CHECK(printable_text("\x7f") == "\\x7f");
}

TEST_CASE("C1 control characters written in UTF-8 become \\u00NN") {
  CHECK(printable_text("\xc2\x9b"
                       "2J") == "\\u009b2J");  // the one-character CSI
  CHECK(printable_text("\xc2\x80\xc2\x9f") == "\\u0080\\u009f");
}

TEST_CASE("bytes that are not well-formed UTF-8 become \\xNN, one by one") {
  CHECK(printable_text("\x9b"
                       "2J") == "\\x9b2J");                             // a bare C1 byte (CSI on Latin-1 terminals)
  CHECK(printable_text("\xc3") == "\\xc3");                             // truncated
  CHECK(printable_text("\xc0\xaf") == "\\xc0\\xaf");                    // overlong '/'
  CHECK(printable_text("\xed\xa0\x80") == "\\xed\\xa0\\x80");           // a surrogate
  CHECK(printable_text("\xf4\x90\x80\x80") == "\\xf4\\x90\\x80\\x80");  // past U+10FFFF
  CHECK(printable_text("\xe2\x82") == "\\xe2\\x82");
  CHECK(printable_text("\xff") == "\\xff");
}

TEST_CASE("no byte of the result is a control character, whatever the input") {
  std::string every_byte;
  for (int byte = 0; byte < 256; ++byte) {
    every_byte += static_cast<char>(byte);
    every_byte += "\xc2";  // before each byte a lead byte, so that 0x80..0x9f also form C1 characters
    every_byte += static_cast<char>(byte);
  }
  auto printable = printable_text(every_byte);
  for (char character : printable) {
    auto byte = static_cast<unsigned char>(character);
    CAPTURE(static_cast<int>(byte));
    CHECK((byte >= 0x20 && byte != 0x7f));
  }
  for (std::size_t index = 0; index + 1 < printable.size(); ++index) {
    CHECK_FALSE((static_cast<unsigned char>(printable[index]) == 0xc2 &&
                 static_cast<unsigned char>(printable[index + 1]) < 0xa0));
  }
  CHECK(printable_text(printable) == printable);
}
