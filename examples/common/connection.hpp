#pragma once

// A client connection as the HTTP server counts it against its cap: a session answering requests,
// or a long-lived stream (a WebSocket, server-sent events) that a handler took over from one.

namespace portpool_example {

class Connection {
 public:
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  Connection(Connection&&) = delete;
  Connection& operator=(Connection&&) = delete;
  virtual ~Connection() = default;

  /// Whether closing it now loses no answer: the server closes the oldest such connection to make
  /// room for a new one when it is full.
  virtual bool is_idle() const = 0;

  /// Whether close() was called: the connection is gone, or goes as soon as its pending operation ends.
  virtual bool is_closed() const = 0;

  /// Closes the connection now, whatever it is doing.
  virtual void close() = 0;

  /// Closes the connection once the answer it is sending, if any, is out (at shutdown).
  virtual void stop() = 0;
};

}  // namespace portpool_example
