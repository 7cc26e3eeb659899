#pragma once

// For tests that run a process out of descriptors on purpose.

#include <portpool/detail/system_error.hpp>
#include <portpool/error_code.hpp>
#include <portpool/exit_codes.hpp>
#include <portpool/lock_policy.hpp>
#include <portpool/port_pool_manager.hpp>

#include <cerrno>
#include <system_error>

namespace portpool::test {

// UBSan's vptr check opens a pipe the first time it checks a call on an object of a given class,
// which fails when descriptors have run out (a false "invalid vptr"): let it meet the classes used
// then beforehand, by acquiring once, exhausting the pool once, throwing the other errors once,
// turning one into an error code, and destroying a lock policy (the test's own manager is
// destroyed after the descriptors ran out).
inline void meet_classes_before_running_out(PortPoolManager& manager) {
  static_cast<void>(detail::errno_text(EMFILE));
  { FileLockPolicy destroyed(manager.options()); }
  auto lease = manager.acquire();
  try {
    manager.acquire();
  } catch (const Error& error) {
    static_cast<void>(error.what());
  }
  try {
    throw Error("error");
  } catch (const Error& error) {
    static_cast<void>(error.what());
  }
  try {
    throw ResourceError("error");
  } catch (const Error& error) {
    static_cast<void>(error.what());
    std::error_code code = error_code_for(error);
    static_cast<void>(code.message());
    static_cast<void>(exit_code_for(code));
  }
}

}  // namespace portpool::test
