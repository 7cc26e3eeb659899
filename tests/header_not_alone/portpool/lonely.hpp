#pragma once

// A header that uses std::string without including <string>: check_headers_alone.py must fail on it.

namespace portpool {

inline std::string lonely() { return "alone"; }

}  // namespace portpool
