#include "http_conformance.hpp"

#include <portpool/printable_text.hpp>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/rfc7230.hpp>

#include <fmt/format.h>

#include <string>
#include <vector>

namespace portpool_example {

namespace {

std::string_view standard(boost::beast::string_view text) { return {text.data(), text.size()}; }

std::optional<Refusal> host_problem(const http::request_header<>& header) {
  auto hosts = header.count(http::field::host);
  if (hosts > 1) {
    return Refusal{http::status::bad_request, "the request has more than one Host header: send exactly one"};
  }
  if (hosts == 0 && header.version() >= 11) {
    return Refusal{http::status::bad_request, "an HTTP/1.1 request needs a Host header (e.g. Host: 127.0.0.1)"};
  }
  return std::nullopt;
}

/// The transfer codings of every Transfer-Encoding field, in order.
std::vector<std::string> transfer_codings(const http::request_header<>& header) {
  std::vector<std::string> codings;
  for (auto field = header.find(http::field::transfer_encoding);
       field != header.end() && field->name() == http::field::transfer_encoding; ++field) {
    for (auto coding : http::token_list(field->value())) {
      codings.emplace_back(standard(coding));
    }
  }
  return codings;
}

std::optional<Refusal> transfer_coding_problem(const http::request_header<>& header) {
  if (header.count(http::field::transfer_encoding) == 0) {
    return std::nullopt;
  }
  auto codings = transfer_codings(header);
  if (header.count(http::field::content_length) != 0) {
    return Refusal{http::status::bad_request,
                   "the request has both Transfer-Encoding and Content-Length: send only one of them"};
  }
  for (std::size_t index = 0; index < codings.size(); ++index) {
    if (!boost::beast::iequals(codings[index], "chunked")) {
      return Refusal{http::status::not_implemented,
                     fmt::format("transfer coding '{}' is not implemented: send the body with Content-Length or "
                                 "Transfer-Encoding: chunked",
                                 portpool::printable_text(codings[index]))};
    }
    if (index + 1 != codings.size()) {
      return Refusal{http::status::bad_request, "chunked must be the last transfer coding, and appear only once"};
    }
  }
  if (codings.empty()) {
    return Refusal{http::status::bad_request, "the Transfer-Encoding header is empty"};
  }
  return std::nullopt;
}

std::optional<Refusal> expectation_problem(const http::request_header<>& header) {
  auto expect = standard(header[http::field::expect]);
  if (header.count(http::field::expect) == 0 || expects_continue(header)) {
    return std::nullopt;
  }
  return Refusal{http::status::expectation_failed,
                 fmt::format("expectation '{}' cannot be met: the only one this server knows is 100-continue",
                             portpool::printable_text(expect))};
}

}  // namespace

std::optional<Refusal> nonconforming(const http::request_header<>& header) {
  if (auto problem = host_problem(header)) {
    return problem;
  }
  if (auto problem = transfer_coding_problem(header)) {
    return problem;
  }
  return expectation_problem(header);
}

bool expects_continue(const http::request_header<>& header) {
  return header.count(http::field::expect) == 1 && boost::beast::iequals(header[http::field::expect], "100-continue");
}

}  // namespace portpool_example
