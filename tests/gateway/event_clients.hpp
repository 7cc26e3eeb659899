#pragma once

// Clients of the gateway's GET /api/events for the tests: a WebSocket (Boost.Beast) and a plain
// server-sent-events reader. Every read is bounded (SO_RCVTIMEO), so that a gateway that stays
// silent fails the test instead of hanging it.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include <sys/socket.h>
#include <sys/time.h>

#include <chrono>
#include <cstdint>
#include <istream>
#include <stdexcept>
#include <string>

namespace portpool::test {

inline void set_receive_timeout(int socket, std::chrono::seconds timeout) {
  timeval limit{static_cast<time_t>(timeout.count()), 0};
  ::setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
}

class WebSocketEvents {
 public:
  /// Opens the WebSocket, sending `origin` as a browser would (none when empty).
  /// @throws boost::system::system_error when the gateway refuses the handshake.
  explicit WebSocketEvents(std::uint16_t port, std::chrono::seconds timeout = std::chrono::seconds(10),
                           const std::string& origin = {})
      : socket_(io_) {
    socket_.next_layer().connect({boost::asio::ip::address_v4::loopback(), port});
    set_receive_timeout(socket_.next_layer().native_handle(), timeout);
    if (!origin.empty()) {
      socket_.set_option(
          boost::beast::websocket::stream_base::decorator([origin](boost::beast::websocket::request_type& request) {
            request.set(boost::beast::http::field::origin, origin);
          }));
    }
    socket_.handshake("127.0.0.1:" + std::to_string(port), "/api/events");
  }

  /// The next message.
  /// @throws boost::system::system_error when none comes within the timeout.
  nlohmann::json next() {
    boost::beast::flat_buffer buffer;
    socket_.read(buffer);
    return nlohmann::json::parse(boost::beast::buffers_to_string(buffer.data()));
  }

  /// Next message whose type is not "health" (health probes run on their own schedule).
  nlohmann::json next_change() {
    while (true) {
      auto message = next();
      if (message.at("type") != "health") {
        return message;
      }
    }
  }

  /// Sends `text` as one text message.
  void send(const std::string& text) { socket_.write(boost::asio::buffer(text)); }

  /// The connection's socket, to wait for its end with poll() (a read blocks past SO_RCVTIMEO:
  /// Asio waits again when it times out).
  int native_handle() { return socket_.next_layer().native_handle(); }

  /// Reads (and discards) messages until the gateway closes the WebSocket; returns the close
  /// frame's reason. Call it once the gateway has ended the connection.
  /// @throws boost::system::system_error when the connection ends otherwise, or times out.
  boost::beast::websocket::close_reason read_until_closed() {
    while (true) {
      boost::beast::flat_buffer buffer;
      boost::beast::error_code error;
      socket_.read(buffer, error);
      if (error == boost::beast::websocket::error::closed) {
        return socket_.reason();
      }
      if (error) {
        throw boost::system::system_error(error);
      }
    }
  }

 private:
  boost::asio::io_context io_;
  boost::beast::websocket::stream<boost::asio::ip::tcp::socket> socket_;
};

class ServerSentEvents {
 public:
  explicit ServerSentEvents(std::uint16_t port, std::chrono::seconds timeout = std::chrono::seconds(10))
      : socket_(io_) {
    socket_.connect({boost::asio::ip::address_v4::loopback(), port});
    set_receive_timeout(socket_.native_handle(), timeout);
    auto request =
        "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) + "\r\nAccept: text/event-stream\r\n\r\n";
    boost::asio::write(socket_, boost::asio::buffer(request));
    boost::asio::read_until(socket_, buffer_, "\r\n\r\n");
    std::istream text(&buffer_);
    std::string line;
    while (std::getline(text, line) && line != "\r") {
      header_ += line + '\n';
    }
  }

  /// The response header (status line and fields).
  const std::string& header() const { return header_; }

  nlohmann::json next() {
    boost::asio::read_until(socket_, buffer_, "\n\n");
    std::istream text(&buffer_);
    std::string data;
    std::string blank;
    std::getline(text, data);
    std::getline(text, blank);
    if (data.rfind("data: ", 0) != 0 || !blank.empty()) {
      throw std::runtime_error("not a server-sent event: " + data);
    }
    return nlohmann::json::parse(data.substr(6));
  }

  nlohmann::json next_change() {
    while (true) {
      auto message = next();
      if (message.at("type") != "health") {
        return message;
      }
    }
  }

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::streambuf buffer_;
  std::string header_;
};

}  // namespace portpool::test
