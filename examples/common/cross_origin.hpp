#pragma once

// Cross-origin requests from the pages the origin policy admits (`--allow-origin`): a browser asks
// first (a preflight, `OPTIONS` with `Access-Control-Request-Method`), and reads a response only
// when it names the page's origin in `Access-Control-Allow-Origin`. Requests from other origins
// never get here: the origin policy refuses them with 403.

#include "http_message.hpp"

#include <string>

namespace portpool_example {

/// Whether `request` is a CORS preflight.
bool is_preflight(const http::request_header<>& request);

/// The answer to a preflight from the admitted `origin`: 204, the methods and request headers the
/// services accept (the MCP headers among them), cached for 10 minutes.
Response preflight_response(const std::string& origin);

/// Lets the page of the admitted `origin` read `response`, and the MCP headers in it.
void allow_origin(http::response_header<>& response, const std::string& origin);

}  // namespace portpool_example
