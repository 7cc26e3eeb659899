// The smallest static server start: binds 0.0.0.0:PORT (argv[1]) for TCP, listens, checks the port
// getsockname() reports (argv[2], when given), and exits 0; 1 when any of it fails. Linked
// statically, as the programs only `run --adopt-mode seccomp` can adopt are (adopt_startup.cpp).

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstdlib>

int main(int argc, char** argv) {
  if (argc < 2) {
    return 2;
  }
  int socket = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  const auto port = static_cast<std::uint16_t>(std::atoi(argv[1]));
  address.sin_port = htons(port);
  if (socket < 0 || ::bind(socket, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(socket, 16) != 0) {
    return 1;
  }
  sockaddr_in bound{};
  socklen_t size = sizeof bound;
  if (::getsockname(socket, reinterpret_cast<sockaddr*>(&bound), &size) != 0) {
    return 1;
  }
  return argc > 2 && ntohs(bound.sin_port) != std::atoi(argv[2]) ? 1 : 0;
}
