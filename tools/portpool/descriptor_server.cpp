#include "descriptor_server.hpp"

#include "exit_codes.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>
#include <utility>

namespace portpool::cli {
namespace {

sockaddr_un unix_address(const std::filesystem::path& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const auto& text = path.native();
  if (text.size() >= sizeof address.sun_path) {
    throw UsageError(fmt::format("--socket-path {} is too long for a Unix socket: use a path of at most {} bytes", text,
                                 sizeof address.sun_path - 1));
  }
  std::memcpy(static_cast<char*>(address.sun_path), text.c_str(), text.size() + 1);
  return address;
}

constexpr std::size_t max_shared = 2;  // a `both` service's TCP and UDP sockets

[[noreturn]] void fail(const std::string& what) { throw std::system_error(errno, std::generic_category(), what); }

}  // namespace

DescriptorServer::DescriptorServer(std::filesystem::path path) : path_(std::move(path)) {
  auto address = unix_address(path_);
  server_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!server_) {
    fail("cannot create a Unix socket");
  }
  // Only this user may connect: the socket hands out a port of this user's pool.
  const auto previous_mask = ::umask(0177);
  const int bound = ::bind(server_.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address);
  const int bind_error = errno;
  ::umask(previous_mask);
  if (bound != 0) {
    server_.reset();
    path_.clear();  // not ours to remove
    if (bind_error == EADDRINUSE) {
      throw UsageError(
          fmt::format("--socket-path {} already exists: remove it or choose another path", address.sun_path));
    }
    errno = bind_error;
    fail(fmt::format("cannot create the Unix socket {}", address.sun_path));
  }
  if (::listen(server_.get(), SOMAXCONN) != 0) {
    fail(fmt::format("cannot listen on the Unix socket {}", path_.string()));
  }
}

DescriptorServer::~DescriptorServer() {
  if (!path_.empty()) {
    ::unlink(path_.c_str());
  }
}

void DescriptorServer::serve_one(const std::vector<int>& shared, unsigned port) const {
  UniqueFd client(::accept4(server_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!client) {
    return;  // the client gave up before being accepted
  }
  auto text = fmt::format("{}\n", port);
  iovec data{text.data(), text.size()};
  const auto count = std::min<std::size_t>(shared.size(), max_shared);
  std::array<char, CMSG_SPACE(max_shared * sizeof(int))> control{};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  message.msg_control = control.data();
  message.msg_controllen = CMSG_SPACE(count * sizeof(int));
  auto* header = CMSG_FIRSTHDR(&message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(count * sizeof(int));
  std::memcpy(CMSG_DATA(header), shared.data(), count * sizeof(int));
  // A client that closed its end must not kill the lease with SIGPIPE.
  (void)::sendmsg(client.get(), &message, MSG_NOSIGNAL);
}

}  // namespace portpool::cli
