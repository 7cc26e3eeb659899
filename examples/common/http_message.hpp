#pragma once

// The HTTP messages the example services read and write, and JSON responses.

#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <functional>
#include <string>

namespace portpool_example {

namespace http = boost::beast::http;

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

/// A request refused before a handler sees it: the status, and why (told to the client).
struct Refusal {
  http::status status;
  std::string reason;
};

/// Receives the response to a request; a handler may call it later, from another completion.
using Respond = std::function<void(Response)>;

/// A response whose body is `body`, pretty-printed (people read these with curl).
inline Response json_response(http::status status, const nlohmann::ordered_json& body) {
  Response response{status, 11};
  response.set(http::field::content_type, "application/json");
  response.body() = body.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + '\n';
  response.prepare_payload();
  return response;
}

/// `{"error": message}` with `status`.
inline Response json_error(http::status status, const std::string& message) {
  return json_response(status, {{"error", message}, {"status", static_cast<unsigned>(status)}});
}

}  // namespace portpool_example
