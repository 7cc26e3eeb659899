#pragma once

// `lease --json` and `run --json` report an exhausted pool as data too: one JSON line on standard
// output, with the refusal of each port (the prose message still goes to standard error).

#include <portpool/error.hpp>

#include <string>
#include <utility>

namespace portpool::cli {

/// Prints `{"error":"pool_exhausted","service","message","refusals":[{"port","reason","holder",
/// "detail"}]}` as one line on standard output (`holder`: the shape of `status --json`'s holders
/// without `reserved`, or null). Best effort: the exit code and the message on stderr report the exhaustion anyway.
void print_exhaustion_json(const PoolExhausted& exhausted, const std::string& service);

/// Calls `acquire()`; when it throws PoolExhausted and `json` is set, prints it with
/// print_exhaustion_json() before the exception goes on (to exit code 75 and the message).
template <class Acquire>
auto reporting_exhaustion(bool json, const std::string& service, Acquire&& acquire) {
  try {
    return std::forward<Acquire>(acquire)();
  } catch (const PoolExhausted& exhausted) {
    if (json) {
      print_exhaustion_json(exhausted, service);
    }
    throw;
  }
}

}  // namespace portpool::cli
