#pragma once

/// @file
/// The exceptions portpool throws. Every message says what is wrong and what to do about it.

#include <portpool/base_errors.hpp>
#include <portpool/refusal.hpp>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace portpool {

/// No port (or instance number) of a pool could be taken. The message names the service, the
/// whole pool, and for each port why it was not available: held by which process, or in use by a
/// program outside portpool. The same explanation is carried as data: `service()` and, for each
/// port tried, a `Refusal` (its reason, the holder's record when a portpool holder has it, and the
/// sentence of the message). Copying never throws (the data is shared, as the message is).
///
/// Thread safety: one exception and its copies may be read from several threads at once: the
/// message and data they share are never changed.
///
/// @code
/// try {
///   auto lease = manager.acquire();
/// } catch (const portpool::PoolExhausted& exhausted) {
///   for (const auto& refusal : exhausted.refusals())
///     std::cerr << refusal.port << ' ' << portpool::to_string(refusal.reason) << '\n';
/// }
/// @endcode
class PoolExhausted : public Error {
 public:
  /// An exhaustion known only by its message (an instance number, or a pool given up on by a
  /// caller): `service()` is empty and `refusals()` has none.
  using Error::Error;

  /// The exhaustion of `service`'s pool, with `refusals` (one per port tried).
  /// @throws std::bad_alloc when the data cannot be stored.
  PoolExhausted(const std::string& message, std::string service, std::vector<Refusal> refusals)
      : Error(message), details_(std::make_shared<const Details>(Details{std::move(service), std::move(refusals)})) {}

  /// The service whose pool is exhausted (empty when only the message is known).
  const std::string& service() const noexcept { return details_ ? details_->service : empty_details().service; }

  /// Why each port of the pool was not handed out, in the order the ports were tried (empty when
  /// only the message is known).
  const std::vector<Refusal>& refusals() const noexcept {
    return details_ ? details_->refusals : empty_details().refusals;
  }

 private:
  struct Details {
    std::string service;
    std::vector<Refusal> refusals;
  };

  static const Details& empty_details() noexcept {
    static const Details empty;
    return empty;
  }

  std::shared_ptr<const Details> details_;
};

}  // namespace portpool
