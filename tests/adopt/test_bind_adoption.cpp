// The seccomp path of `portpool run --adopt` (tools/portpool/bind_adoption.cpp), without the
// command: this program holds a listening socket on a free port as `run` would, starts a real,
// unmodified program whose process installs the bind filter before exec as the keeper's does, and
// serves its notifications as the keeper does. The programs bind port 8000 in their own code:
// busybox httpd and a Go server built with CGO_ENABLED=0 (static binaries, which LD_PRELOAD cannot
// reach) and python3 (dynamic). The last cases start the keeper itself (`portpool
// keep-process-tree`), as `portpool run --adopt-mode seccomp` does.

#include "bind_adoption.hpp"
#include "http_client.hpp"
#include "keeper.hpp"
#include "ports.hpp"
#include "process.hpp"
#include "skip.hpp"
#include "temp_dir.hpp"

#include <portpool/unique_fd.hpp>

#include <elf.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using portpool::UniqueFd;
using portpool::cli::BindAdoption;

constexpr std::uint16_t fixed_port = 8000;
constexpr int reply_timeout_milliseconds = 20000;

// Whether the ELF file at `path` names a program interpreter (is dynamically linked).
bool has_program_interpreter(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  Elf64_Ehdr header{};
  file.read(reinterpret_cast<char*>(&header), sizeof header);
  for (unsigned index = 0; file && index < header.e_phnum; ++index) {
    Elf64_Phdr segment{};
    file.seekg(static_cast<std::streamoff>(header.e_phoff + std::uint64_t{index} * header.e_phentsize));
    file.read(reinterpret_cast<char*>(&segment), sizeof segment);
    if (file && segment.p_type == PT_INTERP) {
      return true;
    }
  }
  REQUIRE(file);
  return false;
}

// A program started as the keeper starts CMD with adopted ports, in a process group of its own:
// its process installs the bind filter just before exec and sends the listener here, where a
// thread serves it, as the keeper's poll loop does, until the listener hangs up.
class AdoptedProgram {
 public:
  AdoptedProgram(const std::vector<std::string>& argv, std::vector<std::uint16_t> ports)
      : held_(portpool::test::listen_on_address("127.0.0.1", 0)) {
    REQUIRE(held_);
    int channel[2];
    int output[2];
    int stop[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, channel) == 0);
    UniqueFd keeper_end(channel[0]);
    UniqueFd command_end(channel[1]);
    REQUIRE(::pipe2(output, O_CLOEXEC) == 0);
    output_.reset(output[0]);
    UniqueFd output_write(output[1]);
    REQUIRE(::pipe2(stop, O_CLOEXEC) == 0);
    stop_read_.reset(stop[0]);
    stop_write_.reset(stop[1]);
    std::vector<char*> arguments;
    arguments.reserve(argv.size() + 1);
    for (const auto& argument : argv) {
      arguments.push_back(const_cast<char*>(argument.c_str()));
    }
    arguments.push_back(nullptr);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {  // async-signal-safe calls only: this process has threads
      ::setpgid(0, 0);
      ::dup2(output_write.get(), STDOUT_FILENO);
      auto outcome = portpool::cli::install_bind_filter();
      if (!portpool::cli::send_filter_outcome(command_end.get(), outcome) || outcome.listener < 0) {
        ::_exit(126);
      }
      ::execv(arguments[0], arguments.data());
      ::_exit(127);
    }
    ::setpgid(pid_, pid_);
    command_end.reset();
    output_write.reset();
    auto received = portpool::cli::receive_bind_listener(keeper_end.get());
    INFO(received.problem);
    REQUIRE(received.descriptor);
    adoption_.emplace(std::move(*received.descriptor), held_.get(), std::move(ports));
    server_ = std::thread([this] { serve(); });
  }

  AdoptedProgram(const AdoptedProgram&) = delete;
  AdoptedProgram& operator=(const AdoptedProgram&) = delete;
  AdoptedProgram(AdoptedProgram&&) = delete;
  AdoptedProgram& operator=(AdoptedProgram&&) = delete;

  ~AdoptedProgram() { end(); }

  int held_socket() const { return held_.get(); }
  std::uint16_t held_port() const { return portpool::test::bound_port(held_.get()); }
  std::uint64_t adopted_count() const { return adopted_count_.load(); }
  pid_t pid() const { return pid_; }

  /// One line of the program's standard output, without its end; throws after 20 s without one.
  std::string read_line() {
    std::string line;
    char character = 0;
    while (true) {
      pollfd readable{output_.get(), POLLIN, 0};
      if (::poll(&readable, 1, reply_timeout_milliseconds) <= 0 || ::read(output_.get(), &character, 1) != 1) {
        throw std::runtime_error("the program wrote no line: " + line);
      }
      if (character == '\n') {
        return line;
      }
      line += character;
    }
  }

  /// Waits for the program to exit by itself; its wait status.
  int wait() {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return status;
  }

  /// Kills the program's group and waits for it, then for the listener to hang up (all the
  /// filter's processes gone); true when it did, with no failure of the adoption.
  bool end() {
    if (pid_ > 0) {
      ::kill(-pid_, SIGKILL);
      wait();
    }
    if (!server_.joinable()) {
      return hung_up_ && !failed_;
    }
    const bool hung_up = portpool::test::wait_until([this] { return hung_up_.load(); });
    static_cast<void>(::write(stop_write_.get(), "x", 1));
    server_.join();
    return hung_up && !failed_;
  }

 private:
  void serve() {
    while (true) {
      pollfd watched[2] = {{adoption_->descriptor(), POLLIN, 0}, {stop_read_.get(), POLLIN, 0}};
      if (::poll(watched, 2, -1) < 0) {
        if (errno == EINTR) {
          continue;
        }
        failed_ = true;
        return;
      }
      if (watched[1].revents != 0) {
        return;
      }
      if ((watched[0].revents & POLLIN) == 0) {
        hung_up_ = true;
        return;
      }
      if (adoption_->serve_one()) {
        failed_ = true;
        return;
      }
      adopted_count_ = adoption_->adopted_count();
    }
  }

  UniqueFd held_;
  UniqueFd output_;
  UniqueFd stop_read_;
  UniqueFd stop_write_;
  pid_t pid_ = -1;
  std::optional<BindAdoption> adoption_;
  std::thread server_;
  std::atomic<std::uint64_t> adopted_count_{0};
  std::atomic<bool> hung_up_{false};
  std::atomic<bool> failed_{false};
};

// The keeper started as `run --adopt-mode seccomp` starts it: `held` as its descriptor 3 and
// PORTPOOL_KEEPER_ADOPT=`adopted` in its environment; CMD is `command` (the program's path first).
class AdoptingKeeper {
 public:
  AdoptingKeeper(int held, const std::string& adopted, const std::vector<std::string>& command) {
    int report[2];
    int errors[2];
    REQUIRE(::pipe2(report, O_CLOEXEC) == 0);
    report_.reset(report[0]);
    UniqueFd report_write(report[1]);
    REQUIRE(::pipe2(errors, O_CLOEXEC) == 0);
    errors_.reset(errors[0]);
    UniqueFd errors_write(errors[1]);
    constexpr int report_descriptor = 4;
    std::vector<std::string> argv{"portpool",
                                  portpool::cli::keeper_command,
                                  std::to_string(::getpid()),
                                  std::to_string(report_descriptor),
                                  "-1",
                                  "1000",
                                  "0",
                                  "0",
                                  "",
                                  command.front()};
    argv.insert(argv.end(), command.begin(), command.end());
    std::vector<std::string> environment;
    for (char** entry = environ; *entry != nullptr; ++entry) {
      environment.emplace_back(*entry);
    }
    environment.push_back(std::string(portpool::cli::adopted_ports_variable) + "=" + adopted);
    auto arguments = pointers(argv);
    auto variables = pointers(environment);
    keeper_ = ::fork();
    REQUIRE(keeper_ >= 0);
    if (keeper_ == 0) {  // async-signal-safe calls only: this process has threads
      if (::dup2(held, 3) < 0 || ::dup2(report_write.get(), report_descriptor) < 0 ||
          ::dup2(errors_write.get(), STDERR_FILENO) < 0) {
        ::_exit(126);
      }
      ::execve(PORTPOOL_CLI, arguments.data(), variables.data());
      ::_exit(127);
    }
  }

  AdoptingKeeper(const AdoptingKeeper&) = delete;
  AdoptingKeeper& operator=(const AdoptingKeeper&) = delete;
  AdoptingKeeper(AdoptingKeeper&&) = delete;
  AdoptingKeeper& operator=(AdoptingKeeper&&) = delete;

  ~AdoptingKeeper() {
    if (keeper_ > 0) {
      ::kill(keeper_, SIGKILL);
      wait();
    }
  }

  /// What the keeper reported: CMD started (its pid), or why not.
  portpool::cli::KeeperReport report() {
    portpool::cli::KeeperReport report;
    REQUIRE(::read(report_.get(), &report, sizeof report) == static_cast<ssize_t>(sizeof report));
    return report;
  }

  /// The keeper's exit status, and what it said on standard error.
  std::pair<int, std::string> wait() {
    int status = 0;
    while (::waitpid(keeper_, &status, 0) < 0 && errno == EINTR) {
    }
    keeper_ = -1;
    std::string said;
    std::array<char, 512> buffer{};
    ssize_t count = 0;
    while ((count = ::read(errors_.get(), buffer.data(), buffer.size())) > 0) {
      said.append(buffer.data(), static_cast<std::size_t>(count));
    }
    return {status, said};
  }

 private:
  static std::vector<char*> pointers(std::vector<std::string>& strings) {
    std::vector<char*> result;
    result.reserve(strings.size() + 1);
    for (auto& text : strings) {
      result.push_back(text.data());
    }
    result.push_back(nullptr);
    return result;
  }

  UniqueFd report_;
  UniqueFd errors_;
  pid_t keeper_ = -1;
};

ino_t inode_of(int descriptor) {
  struct stat status {};
  REQUIRE(::fstat(descriptor, &status) == 0);
  return status.st_ino;
}

}  // namespace

TEST_CASE("PORTPOOL_KEEPER_ADOPT lists port numbers separated by commas") {
  using portpool::cli::keeper_adopted_ports;
  CHECK(keeper_adopted_ports("8000") == std::vector<std::uint16_t>{8000});
  CHECK(keeper_adopted_ports("8000,8001,0") == std::vector<std::uint16_t>{8000, 8001, 0});
  CHECK_FALSE(keeper_adopted_ports(""));
  CHECK_FALSE(keeper_adopted_ports("8000,"));
  CHECK_FALSE(keeper_adopted_ports("8000;8001"));
  CHECK_FALSE(keeper_adopted_ports("65536"));
  CHECK_FALSE(keeper_adopted_ports("-1"));
}

TEST_CASE("busybox httpd, a static binary, gets the held socket: three copies at once serve on their own ports") {
  if (auto problem = portpool::cli::seccomp_adoption_unavailable()) {
    PORTPOOL_SKIP(*problem);
  }
  const std::string busybox = PORTPOOL_TEST_BUSYBOX;
  if (busybox.empty()) {
    PORTPOOL_SKIP("no busybox here (Debian: busybox-static)");
  }
  CHECK_FALSE(has_program_interpreter(busybox));
  portpool::test::TempDir site;
  std::ofstream(site.path() / "index.html") << "adopted\n";
  constexpr int copy_count = 3;
  std::vector<std::unique_ptr<AdoptedProgram>> copies;
  copies.reserve(copy_count);
  for (int copy = 0; copy < copy_count; ++copy) {
    copies.push_back(std::make_unique<AdoptedProgram>(
        std::vector<std::string>{busybox, "httpd", "-f", "-p", std::to_string(fixed_port), "-h", site.path().string()},
        std::vector<std::uint16_t>{fixed_port}));
  }
  for (auto& copy : copies) {
    auto reply = portpool::test::http_get(copy->held_port(), "/index.html");
    CHECK(reply.status == 200);
    CHECK(reply.body == "adopted\n");
    CHECK(portpool::test::wait_until([&] { return copy->adopted_count() == 1; }));
  }
  for (auto& copy : copies) {
    CHECK(copy->end());
  }
}

TEST_CASE("a static Go server gets the held socket: three copies at once answer with their own held port") {
  if (auto problem = portpool::cli::seccomp_adoption_unavailable()) {
    PORTPOOL_SKIP(*problem);
  }
  const std::string server = PORTPOOL_TEST_GO_SERVER;
  if (server.empty()) {
    PORTPOOL_SKIP("no Go compiler here (Debian: golang-go) to build the static server");
  }
  CHECK_FALSE(has_program_interpreter(server));
  constexpr int copy_count = 3;
  std::vector<std::unique_ptr<AdoptedProgram>> copies;
  copies.reserve(copy_count);
  for (int copy = 0; copy < copy_count; ++copy) {
    copies.push_back(
        std::make_unique<AdoptedProgram>(std::vector<std::string>{server}, std::vector<std::uint16_t>{fixed_port}));
  }
  for (auto& copy : copies) {
    auto reply = portpool::test::http_get(copy->held_port(), "/");
    CHECK(reply.status == 200);
    CHECK(reply.body == std::to_string(copy->held_port()));  // getsockname() tells the truth
    CHECK(portpool::test::wait_until([&] { return copy->adopted_count() == 1; }));
    // Go's sockets are non-blocking, and so is the held socket it now uses.
    CHECK((::fcntl(copy->held_socket(), F_GETFL) & O_NONBLOCK) != 0);
  }
  for (auto& copy : copies) {
    CHECK(copy->end());
  }
}

TEST_CASE(
    "further binds of the adopted port, IPv6 and from a thread, get the same socket, and other binds are left alone") {
  if (auto problem = portpool::cli::seccomp_adoption_unavailable()) {
    PORTPOOL_SKIP(*problem);
  }
  portpool::test::TempDir directory;
  const auto local_path = (directory.path() / "local.socket").string();
  AdoptedProgram program({PORTPOOL_TEST_PYTHON, PORTPOOL_TEST_DOUBLE_BIND, std::to_string(fixed_port), local_path},
                         {fixed_port});
  auto bound = nlohmann::json::parse(program.read_line());
  INFO(bound.dump());
  const auto held_inode = inode_of(program.held_socket());
  CHECK(bound["v4_port"] == program.held_port());
  CHECK(bound["v6_port"] == program.held_port());
  CHECK(bound["v4_inode"] == held_inode);
  CHECK(bound["v6_inode"] == held_inode);
  CHECK(bound["v4_inheritable"] == false);             // Python's close-on-exec is kept
  CHECK(bound["thread_port"] == program.held_port());  // a bind from another thread than the main one
  CHECK(bound["thread_inode"] == held_inode);
  CHECK(bound["other_port"] != program.held_port());
  CHECK(bound["other_port"] != 0);
  CHECK(bound["other_inode"] != held_inode);
  CHECK(bound["datagram_port"] != 0);
  CHECK(bound["local_name"] == local_path);
  CHECK(program.adopted_count() == 3);
  CHECK(program.end());
}

TEST_CASE("a bind by a child of the program is adopted too, and the listener hangs up when the last one exits") {
  if (auto problem = portpool::cli::seccomp_adoption_unavailable()) {
    PORTPOOL_SKIP(*problem);
  }
  const std::string server = PORTPOOL_TEST_GO_SERVER;
  if (server.empty()) {
    PORTPOOL_SKIP("no Go compiler here (Debian: golang-go) to build the static server");
  }
  // /bin/sh forks the server, which binds as a grandchild of this process.
  AdoptedProgram shell({"/bin/sh", "-c", "'" + server + "' & echo started; wait"}, {fixed_port});
  CHECK(shell.read_line() == "started");
  auto reply = portpool::test::http_get(shell.held_port(), "/");
  CHECK(reply.body == std::to_string(shell.held_port()));
  CHECK(shell.end());
}

TEST_CASE("the keeper adopts CMD's binds, and CMD's environment has no PORTPOOL_KEEPER_ADOPT") {
  if (auto problem = portpool::cli::seccomp_adoption_unavailable()) {
    PORTPOOL_SKIP(*problem);
  }
  const std::string server = PORTPOOL_TEST_GO_SERVER;
  if (server.empty()) {
    PORTPOOL_SKIP("no Go compiler here (Debian: golang-go) to build the static server");
  }
  auto held = portpool::test::listen_on_address("127.0.0.1", 0);
  REQUIRE(held);
  const auto held_port = portpool::test::bound_port(held.get());
  AdoptingKeeper keeper(held.get(), "9,8000", {server});
  auto report = keeper.report();
  REQUIRE(report.kind == portpool::cli::KeeperReport::started);
  CHECK(portpool::test::http_get(held_port, "/").body == std::to_string(held_port));
  std::ifstream environment_file("/proc/" + std::to_string(report.value) + "/environ", std::ios::binary);
  std::string environment((std::istreambuf_iterator<char>(environment_file)), std::istreambuf_iterator<char>());
  CHECK(environment.find("PORTPOOL_KEEPER_ADOPT") == std::string::npos);
  REQUIRE(::kill(report.value, SIGKILL) == 0);
  auto [status, said] = keeper.wait();
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 128 + SIGKILL);
  CHECK(said.empty());
}

TEST_CASE(
    "the keeper refuses a PORTPOOL_KEEPER_ADOPT that is no list of ports, or no listening socket to give, "
    "before CMD starts") {
  if (auto problem = portpool::cli::seccomp_adoption_unavailable()) {
    PORTPOOL_SKIP(*problem);
  }
  auto held = portpool::test::listen_on_address("127.0.0.1", 0);
  REQUIRE(held);
  portpool::test::TempDir directory;
  const auto marker = directory.path() / "started";
  const std::vector<std::string> command{"/bin/touch", marker.string()};
  SECTION("not a list of ports") {
    AdoptingKeeper keeper(held.get(), "80x0", command);
    auto report = keeper.report();
    CHECK(report.kind == portpool::cli::KeeperReport::keeper_failed);
    CHECK(report.value == EINVAL);
    auto said = keeper.wait().second;
    CHECK(said.find("PORTPOOL_KEEPER_ADOPT=80x0, which is not a list of port numbers") != std::string::npos);
  }
  SECTION("descriptor 3 is not a listening socket") {
    UniqueFd not_a_socket(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    AdoptingKeeper keeper(not_a_socket.get(), "8000", command);
    auto report = keeper.report();
    CHECK(report.kind == portpool::cli::KeeperReport::keeper_failed);
    CHECK(report.value == EBADF);
    auto said = keeper.wait().second;
    CHECK(said.find("descriptor 3 of the keeper of CMD's process tree is not a listening TCP socket") !=
          std::string::npos);
  }
  CHECK_FALSE(std::filesystem::exists(marker));
}

TEST_CASE("a process that cannot install the filter says why, and one that ends first is reported") {
  int channel[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, channel) == 0);
  UniqueFd keeper_end(channel[0]);
  UniqueFd command_end(channel[1]);
  SECTION("the filter refused") {
    REQUIRE(portpool::cli::send_filter_outcome(command_end.get(), {-1, EINVAL, portpool::cli::FilterStep::seccomp}));
    auto received = portpool::cli::receive_bind_listener(keeper_end.get());
    CHECK_FALSE(received.descriptor);
    CHECK(received.error == EINVAL);
    CHECK(received.problem.find("cannot install the seccomp filter that adopts CMD's binds: seccomp(") !=
          std::string::npos);
    CHECK(received.problem.find("use --adopt-mode preload") != std::string::npos);
  }
  SECTION("the process ended first") {
    command_end.reset();
    auto received = portpool::cli::receive_bind_listener(keeper_end.get());
    CHECK_FALSE(received.descriptor);
    CHECK(received.problem == "CMD's process ended before it installed the seccomp filter that adopts its binds");
  }
}
