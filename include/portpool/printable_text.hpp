#pragma once

/// @file
/// printable_text(): text from outside (a holder record, an etcd key, a config file, a command
/// line) made safe to print on a terminal, the way portpool's own messages and tables print it.

#include <portpool/detail/printable_text.hpp>

#include <string>
#include <string_view>

namespace portpool {

/// `text` with every character that could drive a terminal written as a visible escape: C0
/// control characters (ESC, BEL, newline, tab...) and DEL as `\xNN`, C1 control characters
/// (U+0080..U+009F, such as the one-character CSI U+009B) as `\u00NN`, and every byte that is not
/// part of well-formed UTF-8 as `\xNN`. Printable ASCII and other UTF-8 characters are kept, and
/// a backslash stays a backslash, so printable text is returned unchanged and escaping twice is
/// the same as escaping once.
///
/// @throws std::bad_alloc when the copy cannot be allocated.
/// Thread safety: a pure function; call it from any thread.
///
/// @code
/// std::cerr << "unknown service '" << portpool::printable_text(name) << "'\n";
/// // name "\x1b[2Jweb" prints as: unknown service '\x1b[2Jweb'
/// @endcode
inline std::string printable_text(std::string_view text) { return detail::printable_text(text); }

}  // namespace portpool
