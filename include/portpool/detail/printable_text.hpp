#pragma once

// Text that came from outside (a holder record, an etcd key, a config file, a command line) made
// safe to print on a terminal: a control character in it would otherwise be obeyed by the
// terminal (ESC [2J clears the screen, ESC ]0; sets the window title, BEL rings), and an invalid
// UTF-8 byte can start a C1 sequence on terminals that read bytes as Latin-1.

#include <cstddef>
#include <string>
#include <string_view>

namespace portpool::detail {

/// The length (2 to 4) of the well-formed UTF-8 sequence of a non-ASCII character at the start of
/// `text`, or 0 when it is not one (a stray continuation byte, an overlong form, a surrogate, a
/// value past U+10FFFF, a truncated sequence).
inline std::size_t utf8_sequence_length(std::string_view text) {
  auto byte = [&text](std::size_t index) { return static_cast<unsigned char>(text[index]); };
  auto lead = byte(0);
  std::size_t length = 0;
  unsigned char second_low = 0x80;
  unsigned char second_high = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    second_low = lead == 0xe0 ? 0xa0 : 0x80;
    second_high = lead == 0xed ? 0x9f : 0xbf;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    second_low = lead == 0xf0 ? 0x90 : 0x80;
    second_high = lead == 0xf4 ? 0x8f : 0xbf;
  } else {
    return 0;
  }
  if (text.size() < length || byte(1) < second_low || byte(1) > second_high) {
    return 0;
  }
  for (std::size_t index = 2; index < length; ++index) {
    if (byte(index) < 0x80 || byte(index) > 0xbf) {
      return 0;
    }
  }
  return length;
}

inline void append_hex_escape(std::string& text, std::string_view introducer, unsigned value) {
  constexpr std::string_view digits = "0123456789abcdef";
  text += introducer;
  text += digits[(value >> 4U) & 0xfU];
  text += digits[value & 0xfU];
}

/// `text` with every C0 control character (newline and tab included) and DEL written as `\xNN`,
/// every C1 control character (U+0080..U+009F, well-formed UTF-8) as `\u00NN` and every byte that
/// is not part of well-formed UTF-8 as `\xNN`; printable ASCII and other UTF-8 characters are kept.
/// The result holds no control character, so escaping it again changes nothing.
inline std::string printable_text(std::string_view text) {
  std::string printable;
  printable.reserve(text.size());
  std::size_t index = 0;
  while (index < text.size()) {
    auto byte = static_cast<unsigned char>(text[index]);
    if (byte >= 0x20 && byte < 0x7f) {
      printable += text[index];
      ++index;
      continue;
    }
    if (byte < 0x80) {
      append_hex_escape(printable, "\\x", byte);
      ++index;
      continue;
    }
    auto length = utf8_sequence_length(text.substr(index));
    if (length == 0) {
      append_hex_escape(printable, "\\x", byte);
      ++index;
    } else if (byte == 0xc2 && static_cast<unsigned char>(text[index + 1]) < 0xa0) {
      append_hex_escape(printable, "\\u00", static_cast<unsigned char>(text[index + 1]));
      index += length;
    } else {
      printable.append(text, index, length);
      index += length;
    }
  }
  return printable;
}

}  // namespace portpool::detail
