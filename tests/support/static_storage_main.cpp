// portpool_test_static_storage: a program whose leases, instance lease, listening lease, shields
// and manager have static storage duration, so that all of them are destroyed during exit, after
// main returns, in an order the test chooses, and after or before the library's own statics.
//
//   portpool_test_static_storage LOCK_DIR PORT_A PORT_B ORDER
//
// ORDER is a permutation of "lmisw", the order in which the objects are first made (so the
// reverse of the order of their destruction): l = a lease of PORT_A (namespace scope, made before
// main: destroyed after every static the library makes), m = a manager, i = an instance lease,
// s = a shield of the lease, w = a listening lease of PORT_B with its own shield. Prints "HELD"
// once everything is taken, then returns from main.

#include <portpool/asio.hpp>

#include <boost/asio/io_context.hpp>

#include <iostream>
#include <memory>
#include <optional>
#include <string>

namespace {

// Made first, destroyed last: what the shields run on. Static on purpose (what is tested).
boost::asio::io_context io;  // NOLINT(cert-err58-cpp)
std::optional<portpool::PortLease> lease_of_a;
std::string lock_dir;
std::uint16_t port_a = 0;
std::uint16_t port_b = 0;

portpool::Options options() {
  portpool::Options result;
  result.lock_dir = lock_dir;
  return result;
}

portpool::PortPoolManager& manager() {
  static portpool::PortPoolManager instance("static-b", {port_b}, options());
  return instance;
}

void take_lease_of_a() {
  if (!lease_of_a) {
    lease_of_a = portpool::PortPoolManager("static-a", {port_a}, options()).acquire();
  }
}

void make(char object) {
  auto ignore = [](const portpool::ShieldEvent&) {};
  switch (object) {
    case 'l':
      take_lease_of_a();
      break;
    case 'm':
      manager();
      break;
    case 'i': {
      static auto instance = portpool::InstanceManager::acquire(options(), 4);
      break;
    }
    case 's': {
      take_lease_of_a();
      static portpool::PortShield shield(io.get_executor(), *lease_of_a, ignore);
      break;
    }
    case 'w': {
      static auto listening = manager().acquire_listening(io.get_executor());
      static portpool::PortShield shield(io.get_executor(), listening, ignore);
      break;
    }
    default:
      throw std::invalid_argument(std::string("unknown object ") + object);
  }
}

int take_everything(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: portpool_test_static_storage LOCK_DIR PORT_A PORT_B ORDER\n";
    return 64;
  }
  lock_dir = argv[1];
  port_a = static_cast<std::uint16_t>(std::stoul(argv[2]));
  port_b = static_cast<std::uint16_t>(std::stoul(argv[3]));
  for (char object : std::string(argv[4])) {
    make(object);
  }
  io.poll();  // let the shields start watching
  std::cout << "HELD" << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return take_everything(argc, argv);
  } catch (const std::exception& error) {
    std::cerr << "portpool_test_static_storage: " << error.what() << '\n';
    return 70;
  }
}
