// Fuzzes the holder-record parser: records are written by any process that can write to the lock
// directory, so every byte sequence must be rejected or parsed, never crash, and what is parsed
// must survive being written and read again unchanged.

#include <portpool/impl/record.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

bool same_holder(const portpool::Holder& left, const portpool::Holder& right) {
  return left.port == right.port && left.service == right.service && left.pid == right.pid &&
         left.instance == right.instance && left.instance_id == right.instance_id && left.since == right.since &&
         left.readiness == right.readiness && left.description == right.description;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  if (auto parsed = portpool::detail::parse_record(input)) {
    auto reparsed = portpool::detail::parse_record(portpool::detail::format_record(*parsed));
    if (!reparsed || !same_holder(*parsed, *reparsed)) {
      std::abort();
    }
  }
  // The body alone too: random bytes rarely carry a right checksum, and the body's fields (the
  // description's above all) are where the parsing is.
  if (auto body = portpool::detail::parse_record_body(input)) {
    auto reparsed = portpool::detail::parse_record_body(portpool::detail::format_record_body(*body));
    if (!reparsed || !same_holder(*body, *reparsed)) {
      std::abort();
    }
  }
  return 0;
}
