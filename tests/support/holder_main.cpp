// portpool_test_holder: a separate process that takes a port or an instance number, says what it
// got on stdout, and holds it until its stdin is closed (or it is killed).
//
//   portpool_test_holder port LOCK_DIR SERVICE PORT[,PORT...] [INSTANCE]
//   portpool_test_holder instance LOCK_DIR MAX
//
// Output: "ACQUIRED <port or number>" or "EXHAUSTED" (the message goes to stderr), then, after
// stdin closes, "RELEASED".
//
// With PORTPOOL_TEST_STOP_AT=STEP (a step of detail/test_hook.hpp) the holder stops itself with
// SIGSTOP when it reaches that step, for test_fault_injection to look at it and kill it there.

#include <portpool/detail/test_hook.hpp>
#include <portpool/portpool.hpp>

#include <signal.h>

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

const char* requested_stop_step = nullptr;

void stop_at_requested_step() {
  requested_stop_step = std::getenv("PORTPOOL_TEST_STOP_AT");  // read before any thread starts
  if (requested_stop_step != nullptr) {
    portpool::detail::step_hook = [](std::string_view step) {
      if (step == requested_stop_step) {
        ::raise(SIGSTOP);
      }
    };
  }
}

std::vector<std::uint16_t> parse_ports(const std::string& list) {
  std::vector<std::uint16_t> ports;
  std::istringstream stream(list);
  for (std::string item; std::getline(stream, item, ',');) {
    ports.push_back(static_cast<std::uint16_t>(std::stoul(item)));
  }
  return ports;
}

void hold_until_stdin_closes() {
  std::string ignored;
  while (std::getline(std::cin, ignored)) {
  }
}

int hold_port(const std::vector<std::string>& args) {
  portpool::Options options;
  options.lock_dir = args.at(0);
  if (args.size() > 3) {
    options.instance = static_cast<unsigned>(std::stoul(args[3]));
  }
  portpool::PortPoolManager manager(args.at(1), parse_ports(args.at(2)), options);
  auto lease = manager.try_acquire();
  if (!lease) {
    std::cout << "EXHAUSTED" << std::endl;
    return 0;
  }
  std::cout << "ACQUIRED " << lease->port() << std::endl;
  hold_until_stdin_closes();
  lease->release();
  std::cout << "RELEASED" << std::endl;
  return 0;
}

int hold_instance(const std::vector<std::string>& args) {
  portpool::Options options;
  options.lock_dir = args.at(0);
  try {
    auto lease = portpool::InstanceManager::acquire(options, static_cast<unsigned>(std::stoul(args.at(1))));
    std::cout << "ACQUIRED " << lease.number() << std::endl;
    hold_until_stdin_closes();
  } catch (const portpool::PoolExhausted& error) {
    std::cerr << error.what() << '\n';
    std::cout << "EXHAUSTED" << std::endl;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    return 64;
  }
  auto mode = args.front();
  args.erase(args.begin());
  stop_at_requested_step();
  try {
    return mode == "port" ? hold_port(args) : hold_instance(args);
  } catch (const std::exception& error) {
    std::cerr << error.what() << '\n';
    return 1;
  }
}
