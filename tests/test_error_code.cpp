// The portpool error category: every code has a name and a message, maps from its exception type
// and to the exit code the command uses for that exception.

#include <portpool/error_code.hpp>
#include <portpool/exit_codes.hpp>
#include <portpool/fleet/fleet_error.hpp>

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>

using namespace portpool;

static_assert(std::is_error_code_enum_v<errc>);

TEST_CASE("every code of the portpool category has a message, and success is no code") {
  CHECK(std::string(error_category().name()) == "portpool");
  for (auto code : {errc::pool_exhausted, errc::config_error, errc::lock_dir_error, errc::resource_error,
                    errc::system_failure, errc::etcd_unavailable, errc::etcd_refused, errc::argument_error}) {
    std::error_code error = code;
    CHECK(error);
    CHECK(error.category() == error_category());
    CHECK_FALSE(error.message().empty());
    CHECK(error.message() != "unknown portpool error");
  }
  CHECK(exit_code_for(std::error_code()) == exit_code::success);
}

TEST_CASE("each exception type has its code, and the code its exception's exit code") {
  struct Case {
    const std::exception& error;
    errc code;
    int exit_code;
  };
  const PoolExhausted exhausted("no free port");
  const ConfigError config("bad table");
  const ArgumentError argument("unknown service");
  const LockDirError lock_dir("unsafe lock directory");
  const ResourceError resource("out of descriptors");
  const Error failure("a failing call");
  const fleet::EtcdUnavailable unavailable("no endpoint answers");
  const fleet::EtcdError refused("permission denied");
  const fleet::InvalidFleetRecord invalid("not a fleet record");
  for (const auto& item :
       {Case{exhausted, errc::pool_exhausted, exit_code::pool_exhausted},
        Case{config, errc::config_error, exit_code::bad_config}, Case{argument, errc::argument_error, exit_code::usage},
        Case{lock_dir, errc::lock_dir_error, exit_code::unsafe_lock_dir},
        Case{resource, errc::resource_error, exit_code::system_failure},
        Case{failure, errc::system_failure, exit_code::system_failure},
        Case{unavailable, errc::etcd_unavailable, exit_code::etcd_unavailable},
        Case{refused, errc::etcd_refused, exit_code::etcd_refused},
        Case{invalid, errc::system_failure, exit_code::system_failure}}) {
    INFO(item.error.what());
    CHECK(error_code_for(item.error) == item.code);
    CHECK(exit_code_for(make_error_code(item.code)) == item.exit_code);
    CHECK(exit_code_for(item.error) == item.exit_code);
  }
  CHECK(error_code_for(std::runtime_error("not portpool's")) == errc::system_failure);
  CHECK(exit_code_for(std::runtime_error("not portpool's")) == exit_code::system_failure);
  CHECK(exit_code_for(std::make_error_code(std::errc::no_such_file_or_directory)) == exit_code::system_failure);
}
