#pragma once

// Whether a program's output could drive the terminal it is printed on: the bytes that start an
// escape sequence (ESC, the C1 CSI in UTF-8 or as a bare byte), ring the bell or end a title.

#include <string_view>

namespace portpool::test {

/// Whether `output` holds ESC, BEL, U+009B (CSI) or a bare 0x9b byte.
inline bool drives_terminal(std::string_view output) {
  return output.find_first_of("\x1b\x07\x9b") != std::string_view::npos;
}

/// The hostile text the tests put into records, keys, config files and command lines: sets the
/// window title, clears the screen, and a C1 CSI in UTF-8 and as a bare byte.
inline constexpr std::string_view terminal_attack =
    "\x1b]0;PWNED\x07\x1b[2J\xc2\x9b"
    "31m\x9b"
    "1m";

/// How portpool prints terminal_attack.
inline constexpr std::string_view escaped_terminal_attack = R"(\x1b]0;PWNED\x07\x1b[2J\u009b31m\x9b1m)";

}  // namespace portpool::test
