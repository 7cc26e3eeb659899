// Fuzzes the holder-record parser: records are written by any process that can write to the lock
// directory, so every byte sequence must be rejected or parsed, never crash, and what is parsed
// must survive being written and read again unchanged.

#include <portpool/detail/record.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

bool same_holder(const portpool::Holder& left, const portpool::Holder& right) {
  return left.port == right.port && left.service == right.service && left.pid == right.pid &&
         left.instance == right.instance && left.instance_id == right.instance_id && left.since == right.since &&
         left.readiness == right.readiness;
}

}  // namespace

// The input is tried both as a whole record and as a body alone: a checksum guards the body of a
// whole record, which random bytes rarely match, so the body's parser is also fed directly.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = portpool::detail::parse_record(text);
  if (!parsed) {
    parsed = portpool::detail::parse_record_body(text);
  }
  if (!parsed) {
    return 0;
  }
  auto reparsed = portpool::detail::parse_record(portpool::detail::format_record(*parsed));
  if (!reparsed || !same_holder(*parsed, *reparsed)) {
    std::abort();
  }
  return 0;
}
