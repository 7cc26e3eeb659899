#pragma once

// What RFC 9112 (HTTP/1.1) requires a server to refuse in a request header, checked once the
// header is read and before the body is: Beast's parser reads the framing, but leaves these
// decisions to the server.

#include "http_message.hpp"

#include <optional>

namespace portpool_example {

/// The refusal a request with this header must get, or nullopt when it may be read on:
///  - 400 when an HTTP/1.1 request has no Host, or any request has more than one;
///  - 501 for a transfer coding other than chunked (this server decodes no other), 400 when
///    chunked is not the final coding or comes twice;
///  - 400 for Transfer-Encoding together with Content-Length (a request smuggling vector);
///  - 417 for an expectation other than 100-continue.
std::optional<Refusal> nonconforming(const http::request_header<>& header);

/// Whether the client waits for "100 Continue" before it sends the body.
bool expects_continue(const http::request_header<>& header);

}  // namespace portpool_example
