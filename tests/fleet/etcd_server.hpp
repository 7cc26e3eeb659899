#pragma once

// A real etcd for the fleet tests: Debian's etcd-server on free loopback ports, with a temporary
// data directory, its log in a file (etcd logs a lot; a pipe nobody reads would stall it).
//
// start_etcd() runs it as a detached process (its own session, no descriptor shared with the
// caller), so the ctest fixture can start it and exit; stop_etcd() ends it by pid.

#include "ports.hpp"
#include "process.hpp"

#include <portpool/fleet/etcd_client.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace portpool::test {

struct EtcdServer {
  pid_t pid = -1;
  std::uint16_t client_port = 0;
  std::uint16_t peer_port = 0;
  std::filesystem::path directory;
  bool tls = false;  // serve clients over TLS with DIR/cert.pem and require client certificates
  std::string name = "portpool-test";
  std::string initial_cluster;  // NAME=PEER_URL,...: a member of a cluster; empty: a cluster of one

  std::string peer_url() const { return "http://127.0.0.1:" + std::to_string(peer_port); }

  std::string endpoint() const {
    return (tls ? "https" : "http") + std::string("://127.0.0.1:") + std::to_string(client_port);
  }
  std::filesystem::path certificate() const { return directory / "cert.pem"; }
  std::filesystem::path key() const { return directory / "key.pem"; }
};

/// A self-signed certificate for 127.0.0.1 (DIR/cert.pem, DIR/key.pem), made by openssl: etcd's
/// server certificate, the CA that clients trust, and the client certificate etcd accepts.
inline void make_self_signed_certificate(const std::filesystem::path& directory) {
  std::filesystem::create_directories(directory);
  auto command =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
      "-addext subjectAltName=IP:127.0.0.1 -addext basicConstraints=critical,CA:TRUE "
      "-keyout '" +
      (directory / "key.pem").string() + "' -out '" + (directory / "cert.pem").string() + "' >/dev/null 2>&1";
  if (std::system(command.c_str()) != 0) {  // a test's fixed command
    throw std::runtime_error("openssl could not make a test certificate");
  }
}

inline std::uint16_t free_port() {
  auto socket = reserve(0);
  if (!socket) {
    throw std::runtime_error("cannot find a free port for etcd");
  }
  return bound_port(socket.get());  // released here: etcd binds it a moment later
}

// Gone, or a zombie that nobody reaps yet (the fixture's etcd is reparented).
inline bool process_gone(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, WNOHANG) == pid) {
    return true;
  }
  if (::kill(pid, 0) != 0) {
    return true;
  }
  auto text = proc_file_text("/proc/" + std::to_string(pid) + "/stat");
  auto close = text.rfind(')');
  return close == std::string::npos || (close + 2 < text.size() && text[close + 2] == 'Z');
}

inline void stop_etcd(pid_t pid) {
  if (pid <= 0) {
    return;
  }
  ::kill(pid, SIGTERM);
  if (!wait_until([&] { return process_gone(pid); }, std::chrono::seconds(10))) {
    ::kill(pid, SIGKILL);
    wait_until([&] { return process_gone(pid); }, std::chrono::seconds(10));
  }
}

inline pid_t spawn_etcd(const EtcdServer& server) {
  auto client = server.endpoint();
  auto peer = server.peer_url();
  auto cluster = server.initial_cluster.empty() ? server.name + "=" + peer : server.initial_cluster;
  std::vector<std::string> argv{"/usr/bin/etcd", "--name=" + server.name,
                                "--data-dir=" + (server.directory / "data").string(), "--listen-client-urls=" + client,
                                "--advertise-client-urls=" + client, "--listen-peer-urls=" + peer,
                                "--initial-advertise-peer-urls=" + peer, "--initial-cluster=" + cluster,
                                // Short timeouts: a member elects itself (or the members elect one)
                                // at once, and leases can be as short as one second.
                                "--heartbeat-interval=100", "--election-timeout=500", "--log-level=warn"};
  if (server.tls) {
    for (std::string flag : {"--cert-file=", "--trusted-ca-file="}) {
      argv.push_back(flag + server.certificate().string());
    }
    argv.push_back("--key-file=" + server.key().string());
    argv.emplace_back("--client-cert-auth");
  }
  auto log = (server.directory / "etcd.log").string();
  std::vector<char*> pointers;
  pointers.reserve(argv.size() + 1);
  for (auto& argument : argv) {
    pointers.push_back(argument.data());
  }
  pointers.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    throw std::runtime_error("fork failed");
  }
  if (pid == 0) {
    ::setsid();
    int null = ::open("/dev/null", O_RDONLY);
    int output = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    ::dup2(null, 0);
    ::dup2(output, 1);
    ::dup2(output, 2);
    for (int fd = 3; fd < 1024; ++fd) {
      ::close(fd);
    }
    ::execv(pointers[0], pointers.data());
    ::_exit(127);
  }
  return pid;
}

inline bool etcd_answers(const EtcdServer& server) {
  fleet::EtcdOptions options;
  options.endpoints = {server.endpoint()};
  options.request_timeout = std::chrono::milliseconds(500);
  if (server.tls) {
    options.ca_file = options.cert_file = server.certificate().string();
    options.key_file = server.key().string();
  }
  try {
    fleet::EtcdClient client(options);
    client.range_prefix("/health-check");
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

/// Stops the etcd of `server` (whatever its pid is by then) when the test ends, passed or not.
class EtcdStopper {
 public:
  explicit EtcdStopper(const EtcdServer& server) : server_(server) {}
  EtcdStopper(const EtcdStopper&) = delete;
  EtcdStopper& operator=(const EtcdStopper&) = delete;
  EtcdStopper(EtcdStopper&&) = delete;
  EtcdStopper& operator=(EtcdStopper&&) = delete;
  ~EtcdStopper() {
    if (server_.pid > 0 && !process_gone(server_.pid)) {
      stop_etcd(server_.pid);
    }
  }

 private:
  const EtcdServer& server_;
};

/// Waits until the etcd of `server`, started, answers.
/// @throws std::runtime_error, having stopped it, when it exits or does not answer within 30 s.
inline void await_etcd(const EtcdServer& server) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (process_gone(server.pid)) {
      std::ifstream log(server.directory / "etcd.log");
      std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
      throw std::runtime_error("etcd exited at start: " + text.substr(text.size() > 600 ? text.size() - 600 : 0));
    }
    if (etcd_answers(server)) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  stop_etcd(server.pid);
  throw std::runtime_error("etcd did not answer within 30 s; see " + (server.directory / "etcd.log").string());
}

/// Starts etcd (again, with the same ports and data, when `server.pid` is -1 and its ports are
/// set) and waits until it answers.
inline void run_etcd(EtcdServer& server) {
  server.pid = spawn_etcd(server);
  await_etcd(server);
}

/// A new etcd in `directory` on free ports (tried a few times: a port found free may be taken
/// before etcd binds it).
inline EtcdServer start_etcd(const std::filesystem::path& directory, bool tls = false) {
  std::filesystem::create_directories(directory);
  if (tls) {
    make_self_signed_certificate(directory);
  }
  for (int attempt = 0;; ++attempt) {
    EtcdServer server;
    server.directory = directory;
    server.tls = tls;
    server.client_port = free_port();
    server.peer_port = free_port();
    std::filesystem::remove_all(directory / "data");
    try {
      run_etcd(server);
      return server;
    } catch (const std::runtime_error&) {
      if (attempt == 4) {
        throw;
      }
    }
  }
}

/// A new cluster of `size` etcd members, each in DIR/member-N on free ports, all answering. A
/// member answers only once a majority has started, so all are started before any is awaited.
inline std::vector<EtcdServer> start_etcd_cluster(const std::filesystem::path& directory, std::size_t size) {
  for (int attempt = 0;; ++attempt) {
    std::vector<EtcdServer> members(size);
    std::string cluster;
    for (std::size_t index = 0; index < size; ++index) {
      auto& member = members[index];
      member.name = "member-" + std::to_string(index + 1);
      member.directory = directory / member.name;
      std::filesystem::remove_all(member.directory);
      std::filesystem::create_directories(member.directory);
      member.client_port = free_port();
      member.peer_port = free_port();
      cluster += (cluster.empty() ? "" : ",") + member.name + "=" + member.peer_url();
    }
    for (auto& member : members) {
      member.initial_cluster = cluster;
      member.pid = spawn_etcd(member);
    }
    try {
      for (const auto& member : members) {
        await_etcd(member);
      }
      return members;
    } catch (const std::runtime_error&) {
      for (const auto& member : members) {
        stop_etcd(member.pid);
      }
      if (attempt == 4) {
        throw;
      }
    }
  }
}

}  // namespace portpool::test
