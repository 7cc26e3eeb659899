// Two copies of the library in one process (two hidden-visibility plugins, plus the test's own):
// they exclude each other as two processes do, and a refusal or a release in one never drops the
// other's hold.

#include <portpool/port_pool_manager.hpp>

#include "fixtures.hpp"
#include "in_child.hpp"
#include "ports.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <dlfcn.h>

#include <stdexcept>
#include <string>

using namespace portpool;
using namespace portpool::test;

namespace {

class Plugin {
 public:
  explicit Plugin(const char* path) : handle_(::dlopen(path, RTLD_NOW | RTLD_LOCAL)) {
    if (handle_ == nullptr) {
      throw std::runtime_error(std::string("dlopen: ") + ::dlerror());
    }
    acquire_ = reinterpret_cast<int (*)(const char*, unsigned)>(::dlsym(handle_, "plugin_acquire"));
    release_ = reinterpret_cast<void (*)()>(::dlsym(handle_, "plugin_release"));
    if (acquire_ == nullptr || release_ == nullptr) {
      throw std::runtime_error("the plugin lacks its functions");
    }
  }
  Plugin(const Plugin&) = delete;
  Plugin& operator=(const Plugin&) = delete;
  Plugin(Plugin&&) = delete;
  Plugin& operator=(Plugin&&) = delete;
  ~Plugin() {
    release_();
    ::dlclose(handle_);
  }

  bool acquire(const TempDir& directory, std::uint16_t port) {
    return acquire_(directory.lock_dir().c_str(), port) == 1;
  }
  void release() { release_(); }

 private:
  void* handle_;
  int (*acquire_)(const char*, unsigned) = nullptr;
  void (*release_)() = nullptr;
};

bool free_for_another_process(const TempDir& directory, std::uint16_t port) {
  return in_child([&] {
           PortPoolManager manager("bystander", {port}, options_in(directory));
           return manager.try_acquire() ? 0 : 1;
         }) == 0;
}

}  // namespace

TEST_CASE("two plugins with their own copy of the library never hold one port at once") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  Plugin one(PORTPOOL_PLUGIN_ONE);
  Plugin two(PORTPOOL_PLUGIN_TWO);
  REQUIRE(one.acquire(directory, ports[0]));
  CHECK_FALSE(two.acquire(directory, ports[0]));
  PortPoolManager own_copy("test", ports.ports(), options_in(directory));
  CHECK_FALSE(own_copy.try_acquire().has_value());

  // The refused attempts closed their descriptors of the lock file: the hold is intact.
  CHECK_FALSE(free_for_another_process(directory, ports[0]));
  two.release();
  CHECK_FALSE(free_for_another_process(directory, ports[0]));

  one.release();
  CHECK(two.acquire(directory, ports[0]));
  CHECK_FALSE(one.acquire(directory, ports[0]));
  CHECK_FALSE(free_for_another_process(directory, ports[0]));
}
