#include "notify_socket.hpp"

#include <unistd.h>

#include <fmt/format.h>
#include <boost/asio/buffer.hpp>

#include <atomic>
#include <utility>

namespace portpool::cli {

struct NotifySocket::State {
  State(boost::asio::io_context& context, Handler on_message) : socket(context), handler(std::move(on_message)) {}

  boost::asio::local::datagram_protocol::socket socket;
  Handler handler;
  std::array<char, 4096> buffer{};
};

NotifyMessage parse_notify_message(std::string_view datagram) {
  NotifyMessage message;
  while (!datagram.empty()) {
    auto end = datagram.find('\n');
    auto line = datagram.substr(0, end);
    datagram = end == std::string_view::npos ? std::string_view{} : datagram.substr(end + 1);
    if (line == "READY=1") {
      message.ready = true;
    } else if (line == "STOPPING=1") {
      message.stopping = true;
    } else if (line.rfind("STATUS=", 0) == 0) {
      message.status = std::string(line.substr(7));
    }
  }
  return message;
}

NotifySocket::NotifySocket(boost::asio::io_context& context, Handler handler)
    : state_(std::make_shared<State>(context, std::move(handler))) {
  static std::atomic<unsigned> created{0};
  auto name = fmt::format("portpool-notify/{}/{}", ::getpid(), created.fetch_add(1));
  address_ = "@" + name;
  state_->socket.open();
  state_->socket.bind(boost::asio::local::datagram_protocol::endpoint(std::string(1, '\0') + name));
  receive(state_);
}

NotifySocket::~NotifySocket() {
  state_->handler = nullptr;
  boost::system::error_code ignored;
  state_->socket.close(ignored);
}

void NotifySocket::receive(const std::shared_ptr<State>& state) {
  state->socket.async_receive(boost::asio::buffer(state->buffer),
                              [state](const boost::system::error_code& error, std::size_t size) {
                                if (error || !state->handler) {
                                  return;
                                }
                                auto handler = state->handler;  // it may destroy the NotifySocket
                                handler(parse_notify_message(std::string_view(state->buffer.data(), size)));
                                if (state->handler) {
                                  receive(state);
                                }
                              });
}

}  // namespace portpool::cli
