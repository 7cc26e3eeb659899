// The start-up cost of `run --adopt-mode seccomp`: a static program that binds and listens
// (bind_once), started as a plain fork + exec on port 0, against the same program started as the
// keeper starts an adopted CMD (the bind filter installed before exec, its listener sent over a
// socketpair and served) binding the adopted port 8000, which gets the held socket. Each round
// runs from fork to the program's exit, seen by waitpid; the modes alternate round by round. Wall
// time, and CPU time, which a loaded machine disturbs less: the program's (user + system, from
// wait4, from the fork on) and this process's during the round (the fork, and the keeper's side
// of the adoption).
//
//   adopt_startup [--rounds N] BIND_ONCE
//
// Prints the median, p90 and max of each mode and the median differences; exits 1 when a program
// failed, or an adopted bind did not get the held socket.

#include "bind_adoption.hpp"

#include <portpool/unique_fd.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using portpool::UniqueFd;

constexpr std::uint16_t adopted_port = 8000;

struct Sample {  ///< milliseconds
  double wall = 0;
  double program_cpu = 0;
  double own_cpu = 0;
};

double milliseconds(const timeval& time) {
  return static_cast<double>(time.tv_sec) * 1e3 + static_cast<double>(time.tv_usec) / 1e3;
}

double own_cpu_milliseconds() {
  timespec time{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time);
  return static_cast<double>(time.tv_sec) * 1e3 + static_cast<double>(time.tv_nsec) / 1e6;
}

// The round that began at `start` and `start_cpu`, once `process` exited 0; nullopt when it did not.
std::optional<Sample> finish(pid_t process, Clock::time_point start, double start_cpu) {
  int status = 0;
  rusage usage{};
  while (::wait4(process, &status, 0, &usage) < 0) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return std::nullopt;
  }
  return Sample{std::chrono::duration<double, std::milli>(Clock::now() - start).count(),
                milliseconds(usage.ru_utime) + milliseconds(usage.ru_stime), own_cpu_milliseconds() - start_cpu};
}

std::optional<Sample> plain_start(char* const* argv) {
  auto start = Clock::now();
  auto start_cpu = own_cpu_milliseconds();
  pid_t process = ::fork();
  if (process == 0) {
    ::execv(argv[0], argv);
    ::_exit(127);
  }
  if (process < 0) {
    return std::nullopt;
  }
  return finish(process, start, start_cpu);
}

std::optional<Sample> adopted_start(char* const* argv, int held_socket) {
  auto start = Clock::now();
  auto start_cpu = own_cpu_milliseconds();
  int channel[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, channel) != 0) {
    return std::nullopt;
  }
  UniqueFd keeper_end(channel[0]);
  UniqueFd command_end(channel[1]);
  pid_t process = ::fork();
  if (process == 0) {
    auto outcome = portpool::cli::install_bind_filter();
    if (!portpool::cli::send_filter_outcome(command_end.get(), outcome) || outcome.listener < 0) {
      ::_exit(126);
    }
    ::execv(argv[0], argv);
    ::_exit(127);
  }
  command_end.reset();
  auto received = portpool::cli::receive_bind_listener(keeper_end.get());
  if (process < 0 || !received.descriptor) {
    std::fprintf(stderr, "adopt_startup: %s\n", received.problem.c_str());
    return std::nullopt;
  }
  portpool::cli::BindAdoption adoption(std::move(*received.descriptor), held_socket, {adopted_port});
  while (adoption.adopted_count() == 0) {
    pollfd readable{adoption.descriptor(), POLLIN, 0};
    if (::poll(&readable, 1, -1) < 0 || (readable.revents & POLLIN) == 0 || adoption.serve_one()) {
      break;  // hung up: the program is gone without its bind
    }
  }
  auto sample = finish(process, start, start_cpu);
  return adoption.adopted_count() == 1 ? sample : std::nullopt;
}

double median(std::vector<double> times) {
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// One figure of both modes: median, p90 and max, and the difference of the medians.
void report(const char* figure, double Sample::*member, const std::vector<Sample>& plain,
            const std::vector<Sample>& adopted) {
  double plain_median = 0;
  for (const auto* samples : {&plain, &adopted}) {
    std::vector<double> times;
    for (const auto& sample : *samples) {
      times.push_back(sample.*member);
    }
    std::sort(times.begin(), times.end());
    std::printf("%-7s %-26s median %7.3f ms   p90 %7.3f ms   max %7.3f ms   (%zu rounds)\n",
                samples == &plain ? "plain" : "adopted", figure, times[times.size() / 2], times[times.size() * 9 / 10],
                times.back(), times.size());
    if (samples == &plain) {
      plain_median = median(times);
    } else {
      std::printf("added by the adoption (%s, medians): %.3f ms\n", figure, median(times) - plain_median);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 200;
  int first = 1;
  if (argc > 3 && std::string(argv[1]) == "--rounds") {
    rounds = std::max(1, std::atoi(argv[2]));
    first = 3;
  }
  if (argc != first + 1) {
    std::fputs("usage: adopt_startup [--rounds N] BIND_ONCE\n", stderr);
    return 2;
  }
  if (auto problem = portpool::cli::seccomp_adoption_unavailable()) {
    std::printf("SKIPPED: %s\n", problem->c_str());
    return 0;
  }
  UniqueFd held(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  if (::bind(held.get(), reinterpret_cast<const sockaddr*>(&address), size) != 0 || ::listen(held.get(), 16) != 0 ||
      ::getsockname(held.get(), reinterpret_cast<sockaddr*>(&address), &size) != 0) {
    std::perror("adopt_startup: the held socket");
    return 1;
  }
  std::string program = argv[first];
  std::string any_port = "0";
  std::string fixed_port = std::to_string(adopted_port);
  std::string held_port = std::to_string(ntohs(address.sin_port));
  std::vector<char*> plain_argv{program.data(), any_port.data(), nullptr};
  std::vector<char*> adopted_argv{program.data(), fixed_port.data(), held_port.data(), nullptr};
  std::vector<Sample> plain;
  std::vector<Sample> adopted;
  for (int round = 0; round < rounds; ++round) {
    auto plain_sample = plain_start(plain_argv.data());
    auto adopted_sample = adopted_start(adopted_argv.data(), held.get());
    if (!plain_sample || !adopted_sample) {
      std::fprintf(stderr, "adopt_startup: round %d failed (%s)\n", round, plain_sample ? "adopted" : "plain");
      return 1;
    }
    plain.push_back(*plain_sample);
    adopted.push_back(*adopted_sample);
  }
  report("wall", &Sample::wall, plain, adopted);
  report("cpu, the program", &Sample::program_cpu, plain, adopted);
  report("cpu, the starting process", &Sample::own_cpu, plain, adopted);
  return 0;
}
