#pragma once

// The receiving end of systemd's notify protocol, for one copy of CMD: an abstract Unix datagram
// socket whose address CMD gets as NOTIFY_SOCKET. Servers that call sd_notify("READY=1") under
// systemd need no change to tell `portpool run` they are ready.

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/datagram_protocol.hpp>

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace portpool::cli {

/// What one datagram said (the keys portpool acts on; others, such as MAINPID=, are ignored).
struct NotifyMessage {
  bool ready = false;                 ///< READY=1
  bool stopping = false;              ///< STOPPING=1
  std::optional<std::string> status;  ///< STATUS=...
};

/// Parses "KEY=VALUE" lines.
NotifyMessage parse_notify_message(std::string_view datagram);

class NotifySocket {
 public:
  using Handler = std::function<void(const NotifyMessage&)>;

  /// Binds a new abstract address and starts receiving on `context`; `handler` runs there.
  /// @throws std::system_error when the socket cannot be created.
  NotifySocket(boost::asio::io_context& context, Handler handler);
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;
  NotifySocket(NotifySocket&&) = delete;
  NotifySocket& operator=(NotifySocket&&) = delete;
  /// Closes the socket; the handler is never called again.
  ~NotifySocket();

  /// The value of NOTIFY_SOCKET: "@" and the abstract name.
  const std::string& address() const noexcept { return address_; }

 private:
  struct State;
  static void receive(const std::shared_ptr<State>& state);

  std::shared_ptr<State> state_;
  std::string address_;
};

}  // namespace portpool::cli
