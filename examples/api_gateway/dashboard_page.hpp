#pragma once

// The dashboard (dashboard/index.html), embedded in the program at build time.

#include <string_view>

namespace api_gateway {

/// The whole page: HTML with its style and script inline, no external resource.
std::string_view dashboard_page();

}  // namespace api_gateway
