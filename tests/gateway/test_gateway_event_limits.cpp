// The gateway's event streams (GET /api/events) within its limits, against hostile and careless
// clients: idle subscribers up to the descriptor limit, WebSocket messages longer than the stream
// allows (whole, or announced by a frame header and never finished), and a subscriber that never
// reads. See docs/api_gateway.md, "Limits of the event stream".

#include "event_clients.hpp"
#include "gateway_process.hpp"
#include "http_client.hpp"
#include "ports.hpp"
#include "process.hpp"
#include "skip.hpp"
#include "temp_dir.hpp"

#include <portpool/port_pool_manager.hpp>
#include <portpool/unique_fd.hpp>

#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

using namespace portpool::test;

namespace {

/// Raises this process's soft descriptor limit to the hard one; returns the limit now in force.
rlim_t raise_own_descriptor_limit() {
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &limit);
  ::getrlimit(RLIMIT_NOFILE, &limit);
  return limit.rlim_cur;
}

/// A table with the gateway's pool and a second service, "worker", whose ports the tests take to
/// make events.
std::filesystem::path write_gateway_and_worker(const TempDir& directory, std::uint16_t gateway_port,
                                               std::uint16_t worker_port) {
  auto path = directory.path() / "ports.toml";
  std::ofstream(path) << "[services.api-server]\nports = [" << gateway_port << "]\n\n[services.worker]\nports = ["
                      << worker_port << "]\n";
  return path;
}

/// The longest message the gateway takes from a WebSocket client (docs/api_gateway.md).
constexpr std::uint64_t max_websocket_message_bytes = 4096;

/// A TCP connection to 127.0.0.1:port, with a receive buffer of `receive_buffer_bytes` when not 0
/// (set before connecting, so that the window the gateway sees is small from the start).
portpool::UniqueFd connect_to(std::uint16_t port, int receive_buffer_bytes = 0) {
  portpool::UniqueFd socket(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!socket) {
    throw std::runtime_error("cannot open a socket");
  }
  if (receive_buffer_bytes != 0) {
    ::setsockopt(socket.get(), SOL_SOCKET, SO_RCVBUF, &receive_buffer_bytes, sizeof receive_buffer_bytes);
  }
  timeval limit{10, 0};
  ::setsockopt(socket.get(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  ::setsockopt(socket.get(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  auto address = loopback(port);
  if (::connect(socket.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    throw std::runtime_error("cannot connect to the gateway");
  }
  return socket;
}

void send_all(int socket, const std::string& bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    auto count = ::send(socket, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (count <= 0) {
      throw std::runtime_error("cannot send to the gateway");
    }
    sent += static_cast<std::size_t>(count);
  }
}

/// Sends `bytes`, as far as the gateway takes them: it may close the connection on the way.
void send_what_is_taken(int socket, const std::string& bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    auto count = ::send(socket, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (count <= 0) {
      return;
    }
    sent += static_cast<std::size_t>(count);
  }
}

/// Reads a response header, a byte at a time so that what follows stays unread; returns it.
std::string read_response_header(int socket) {
  std::string received;
  char byte = 0;
  while (received.size() < 4 || received.compare(received.size() - 4, 4, "\r\n\r\n") != 0) {
    if (::recv(socket, &byte, 1, 0) != 1) {
      throw std::runtime_error("the gateway sent no response header; got: " + received);
    }
    received.push_back(byte);
  }
  return received.substr(0, received.size() - 4);
}

/// Reads the server's WebSocket frames until the connection ends; returns the code of its close
/// frame, or nullopt when it sent none.
std::optional<unsigned> close_code_received(int socket) {
  std::string bytes;
  std::array<char, 4096> chunk{};
  for (ssize_t count = 0; (count = ::recv(socket, chunk.data(), chunk.size(), 0)) > 0;) {
    bytes.append(chunk.data(), static_cast<std::size_t>(count));
  }
  auto byte_at = [&bytes](std::size_t index) {
    return static_cast<std::uint64_t>(static_cast<unsigned char>(bytes[index]));
  };
  std::size_t position = 0;
  while (position + 2 <= bytes.size()) {
    auto opcode = byte_at(position) & 0x0f;
    std::uint64_t length = byte_at(position + 1) & 0x7f;  // a server's frames are not masked
    position += 2;
    std::size_t length_bytes = length == 126 ? 2 : length == 127 ? 8 : 0;
    if (position + length_bytes > bytes.size()) {
      break;
    }
    if (length_bytes != 0) {
      length = 0;
      for (std::size_t index = 0; index < length_bytes; ++index) {
        length = (length << 8) | byte_at(position + index);
      }
      position += length_bytes;
    }
    if (opcode == 0x8 && length >= 2 && position + 2 <= bytes.size()) {
      return static_cast<unsigned>((byte_at(position) << 8) | byte_at(position + 1));
    }
    position += static_cast<std::size_t>(length);
  }
  return std::nullopt;
}

std::string event_stream_request(std::uint16_t port) {
  return "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
         "\r\nAccept: text/event-stream\r\n\r\n";
}

std::string websocket_request(std::uint16_t port) {
  return "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
         "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
         "Sec-WebSocket-Version: 13\r\n\r\n";
}

/// A client's masked text frame header announcing `length` bytes (over 125, in the shortest
/// encoding, as RFC 6455 requires), with the mask 0 (so that the payload goes as it is).
std::string frame_header(std::uint64_t length) {
  std::string header{static_cast<char>(0x81)};
  int length_bytes = length > 0xffff ? 8 : 2;
  header.push_back(static_cast<char>(0x80 | (length_bytes == 8 ? 127 : 126)));
  for (int shift = 8 * (length_bytes - 1); shift >= 0; shift -= 8) {
    header.push_back(static_cast<char>((length >> shift) & 0xff));
  }
  header.append(4, '\0');
  return header;
}

/// Whether the gateway ended the connection (an end of stream or a reset), whatever unread data
/// it sent before.
bool ended_by_gateway(int socket) {
  pollfd ready{socket, POLLRDHUP, 0};
  return ::poll(&ready, 1, 0) == 1 && (ready.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

/// A field of /proc/PID/status in kB (VmRSS, VmHWM).
std::uint64_t status_kilobytes(pid_t pid, const std::string& field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string name;
  std::uint64_t value = 0;
  std::string unit;
  while (status >> name) {
    if (name == field + ":") {
      status >> value >> unit;
      return value;
    }
  }
  throw std::runtime_error("no " + field + " in /proc/" + std::to_string(pid) + "/status");
}

}  // namespace

TEST_CASE("idle event subscribers count against the connection cap: at the descriptor limit, health answers") {
  constexpr unsigned gateway_descriptor_limit = 256;
  constexpr std::size_t subscriber_count = 400;  // even, so that the last one is a server-sent-events stream
  if (auto limit = raise_own_descriptor_limit(); limit < subscriber_count + 200) {
    PORTPOOL_SKIP("the hard descriptor limit (ulimit -Hn) is " << limit << ", and this test needs "
                                                               << subscriber_count + 200 << " descriptors");
  }
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  auto gateway = Gateway::spawn_with_descriptor_limit(gateway_descriptor_limit, write_table(directory, ports.ports()),
                                                      directory.lock_dir());
  gateway.wait_until_started();
  auto cap = gateway.start_event().at("max_connections").get<std::size_t>();
  REQUIRE(cap < gateway_descriptor_limit);  // lowered to leave the gateway descriptors of its own
  REQUIRE(cap < subscriber_count);

  std::vector<portpool::UniqueFd> subscribers;
  for (std::size_t index = 0; index < subscriber_count; ++index) {  // WebSocket and server-sent events in turn
    subscribers.push_back(connect_to(gateway.port()));
    send_all(subscribers.back().get(),
             index % 2 == 0 ? websocket_request(gateway.port()) : event_stream_request(gateway.port()));
  }
  // Once the gateway has taken them all, those beyond its cap were closed for room, the oldest first.
  auto count_ended = [&] {
    return static_cast<std::size_t>(std::count_if(subscribers.begin(), subscribers.end(),
                                                  [](const auto& socket) { return ended_by_gateway(socket.get()); }));
  };
  REQUIRE(wait_until([&] { return count_ended() >= subscriber_count - cap; }, std::chrono::seconds(60)));
  CHECK(http_get(gateway.port(), "/api/health").status == 200);
  CHECK(ended_by_gateway(subscribers.front().get()));
  CHECK(!ended_by_gateway(subscribers.back().get()));
  // The newest subscriber is a live one: it has its response header.
  CHECK_THAT(read_response_header(subscribers.back().get()), Catch::Matchers::Contains("text/event-stream"));
}

TEST_CASE("a WebSocket message longer than 4 KiB closes the stream with 1009, a short one does not") {
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  auto gateway = Gateway::start(write_gateway_and_worker(directory, ports[0], ports[1]), directory.lock_dir());
  WebSocketEvents client(gateway.port());
  REQUIRE(client.next_change().at("type") == "snapshot");
  client.send(std::string(max_websocket_message_bytes, 'x'));  // the limit itself is allowed
  portpool::Options options;
  options.lock_dir = directory.lock_dir();
  portpool::PortPoolManager worker("worker", {ports[1]}, options);
  auto lease = worker.acquire();
  CHECK(client.next_change().at("type") == "acquired");  // still subscribed

  client.send(std::string(max_websocket_message_bytes + 1024, 'x'));
  REQUIRE(wait_until([&] { return ended_by_gateway(client.native_handle()); }, std::chrono::seconds(20)));
  auto reason = client.read_until_closed();
  CHECK(reason.code == boost::beast::websocket::close_code::too_big);
  CHECK(http_get(gateway.port(), "/api/health").status == 200);
}

TEST_CASE("a subscriber that never reads is dropped, and the others still get every event") {
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  auto gateway = Gateway::start(write_gateway_and_worker(directory, ports[0], ports[1]), directory.lock_dir());
  WebSocketEvents reader(gateway.port());
  REQUIRE(reader.next_change().at("type") == "snapshot");
  auto never_reads = connect_to(gateway.port(), 4096);
  send_all(never_reads.get(), event_stream_request(gateway.port()));

  portpool::Options options;
  options.lock_dir = directory.lock_dir();
  options.description.protocol = "http";
  options.description.health_path = "/api/health";
  options.description.tags = {"events", "to", "fill", "the", "queue"};
  portpool::PortPoolManager worker("worker", {ports[1]}, options);
  // The bound (docs/api_gateway.md): a 64 KiB send buffer (128 KiB in Linux's count), 1,024
  // messages or 1 MiB queued besides. Each cycle makes two messages of a few hundred bytes.
  constexpr int max_cycles = 4000;
  int cycles = 0;
  for (; cycles < max_cycles && !ended_by_gateway(never_reads.get()); ++cycles) {
    auto lease = worker.acquire();
    REQUIRE(reader.next_change().at("type") == "acquired");
    lease.release();
    REQUIRE(reader.next_change().at("type") == "released");
  }
  WARN(cycles << " acquire-release cycles (" << 2 * cycles
              << " events) until the subscriber that never reads was dropped, or the loop's end");
  REQUIRE(ended_by_gateway(never_reads.get()));
  auto dropped = gateway.wait_for_event("subscriber_dropped");
  REQUIRE(dropped.has_value());
  CHECK(dropped->at("queued_messages").get<std::size_t>() <= 1024);

  auto lease = worker.acquire();
  CHECK(reader.next_change().at("type") == "acquired");
}

TEST_CASE("hostile WebSocket clients announcing 15 MB messages: the gateway's memory stays bounded") {
  constexpr std::size_t client_count = 1000;
  constexpr std::uint64_t announced_bytes = 15'000'000;
  constexpr std::size_t sent_bytes = std::size_t{256} * 1024;  // of each announced message, never finished
  // Besides them, as many subscribers that stay, each in the middle of a message of the longest
  // length allowed.
  constexpr std::size_t patient_sent_bytes = 4000;
  // Measured (docs/api_gateway.md): the peak resident set grows by about 10 MB; before the limit,
  // by the bytes sent, 256 MB and more.
  constexpr std::uint64_t growth_bound_kilobytes = std::uint64_t{64} * 1024;
  if (auto limit = raise_own_descriptor_limit(); limit < 2 * client_count + 200) {
    PORTPOOL_SKIP("the hard descriptor limit (ulimit -Hn) is " << limit << ", and this test needs "
                                                               << 2 * client_count + 200 << " descriptors");
  }
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  auto gateway = Gateway::start(write_table(directory, ports.ports()), directory.lock_dir(),
                                {"--max-connections", std::to_string(2 * client_count + 100)});
  CHECK(http_get(gateway.port(), "/api/health").status == 200);
  auto resident_before = status_kilobytes(gateway.pid(), "VmRSS");

  auto open_websockets = [&gateway] {
    std::vector<portpool::UniqueFd> clients;
    for (std::size_t index = 0; index < client_count; ++index) {
      clients.push_back(connect_to(gateway.port()));
      send_all(clients.back().get(), websocket_request(gateway.port()));
    }
    for (const auto& client : clients) {
      REQUIRE_THAT(read_response_header(client.get()), Catch::Matchers::StartsWith("HTTP/1.1 101"));
    }
    return clients;
  };
  auto patient = open_websockets();
  for (const auto& client : patient) {
    send_all(client.get(), frame_header(max_websocket_message_bytes) + std::string(patient_sent_bytes, 'x'));
  }
  auto hostile = open_websockets();
  auto message = frame_header(announced_bytes) + std::string(sent_bytes, 'x');
  for (const auto& client : hostile) {
    send_what_is_taken(client.get(), message);
  }
  CHECK(http_get(gateway.port(), "/api/health").status == 200);
  auto peak_growth = status_kilobytes(gateway.pid(), "VmHWM") - resident_before;
  WARN(client_count << " WebSocket clients each sending " << sent_bytes << " bytes of a 15 MB message, and "
                    << client_count << " in the middle of a 4 KiB one: the gateway's peak resident set grew by "
                    << peak_growth / 1024 << " MB (from " << resident_before / 1024 << " MB)");
  CHECK(peak_growth < growth_bound_kilobytes);
  // Each hostile one was refused when its frame header came: a close frame with 1009, then the end.
  auto count_ended = [](const std::vector<portpool::UniqueFd>& clients) {
    return static_cast<std::size_t>(std::count_if(clients.begin(), clients.end(),
                                                  [](const auto& client) { return ended_by_gateway(client.get()); }));
  };
  REQUIRE(wait_until([&] { return count_ended(hostile) == client_count; }, std::chrono::seconds(60)));
  std::size_t closed_with_1009 = 0;
  for (const auto& client : hostile) {
    closed_with_1009 += close_code_received(client.get()) == 1009U ? 1 : 0;
  }
  CHECK(closed_with_1009 == client_count);
  CHECK(count_ended(patient) == 0);
}
