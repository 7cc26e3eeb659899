// etcd_fixture: starts and stops the etcd that the fleet tests share (a ctest fixture).
//
//   etcd_fixture start DIR   starts etcd with its data and log in DIR, writes DIR/endpoint and DIR/pid
//   etcd_fixture stop DIR    stops it and removes DIR

#include "etcd_server.hpp"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: etcd_fixture start|stop DIR\n";
    return 64;
  }
  std::string action = argv[1];
  std::filesystem::path directory = argv[2];
  try {
    if (action == "start") {
      std::filesystem::remove_all(directory);
      auto server = portpool::test::start_etcd(directory);
      std::ofstream(directory / "pid") << server.pid << '\n';
      std::ofstream(directory / "endpoint") << server.endpoint() << '\n';
      std::cout << "etcd " << server.endpoint() << " pid " << server.pid << '\n';
      return 0;
    }
    if (action == "stop") {
      pid_t pid = -1;
      std::ifstream(directory / "pid") >> pid;
      portpool::test::stop_etcd(pid);
      std::filesystem::remove_all(directory);
      return 0;
    }
  } catch (const std::exception& error) {
    std::cerr << "etcd_fixture: " << error.what() << '\n';
    return 1;
  }
  std::cerr << "etcd_fixture: unknown action '" << action << "'\n";
  return 64;
}
