#pragma once

// Holder records: a small text file next to each lock ("port-9000.record") saying who holds it.
// It is a separate file because reading the lock file itself would mean opening and closing it,
// which drops the reader's own fcntl lock when the reader is the holder.
//
// Records are written to a temporary name and renamed into place, so a reader sees a whole record
// or none. Any process that can write to the lock directory can also write records, so the parser
// treats them as hostile input: bounded size, strict syntax, validated values, never a symlink.

#include <portpool/detail/lock_directory.hpp>
#include <portpool/detail/names.hpp>
#include <portpool/detail/system_error.hpp>
#include <portpool/detail/test_hook.hpp>
#include <portpool/detail/unique_fd.hpp>
#include <portpool/error.hpp>
#include <portpool/holder.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace portpool::detail {

inline constexpr std::string_view record_header = "portpool-record 1";
inline constexpr std::size_t max_record_size = 4096;

inline std::string format_record(const Holder& holder) {
  auto since = std::chrono::duration_cast<std::chrono::milliseconds>(holder.since.time_since_epoch()).count();
  auto text = fmt::format("{}\nport={}\nservice={}\npid={}\ninstance={}\ninstance_id={}\nsince_ms={}\n", record_header,
                          holder.port, holder.service, holder.pid, holder.instance, holder.instance_id, since);
  if (holder.readiness != Readiness::unknown) {
    text += fmt::format("readiness={}\n", to_string(holder.readiness));
  }
  return text;
}

template <class Number>
bool parse_number(std::string_view text, Number& value) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc{} && end == text.data() + text.size();
}

inline bool parse_record_field(std::string_view key, std::string_view value, Holder& holder) {
  if (key == "port") {
    return parse_number(value, holder.port);
  }
  if (key == "service") {
    holder.service = value;
    return value.empty() || is_valid_name(value);
  }
  if (key == "pid") {
    return parse_number(value, holder.pid) && holder.pid > 0;
  }
  if (key == "instance") {
    return parse_number(value, holder.instance);
  }
  if (key == "instance_id") {
    holder.instance_id = value;
    return value.empty() || is_valid_name(value);
  }
  if (key == "since_ms") {
    // Beyond what the clock can hold, converting to its finer unit would overflow.
    constexpr auto latest =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::duration::max()).count();
    std::int64_t milliseconds = 0;
    if (!parse_number(value, milliseconds) || milliseconds < 0 || milliseconds > latest) {
      return false;
    }
    holder.since = std::chrono::system_clock::time_point(std::chrono::milliseconds(milliseconds));
    return true;
  }
  if (key == "readiness") {
    for (auto candidate : {Readiness::starting, Readiness::ready, Readiness::stopping}) {
      if (value == to_string(candidate)) {
        holder.readiness = candidate;
        return true;
      }
    }
    return false;
  }
  return true;  // a newer writer's extra field
}

/// Parses a record; nullopt for anything malformed.
inline std::optional<Holder> parse_record(std::string_view text) {
  if (text.size() > max_record_size || text.substr(0, record_header.size()) != record_header ||
      text.substr(record_header.size(), 1) != "\n") {
    return std::nullopt;
  }
  text.remove_prefix(record_header.size() + 1);
  Holder holder;
  bool has_pid = false;
  while (!text.empty()) {
    auto end = text.find('\n');
    if (end == std::string_view::npos) {
      return std::nullopt;  // truncated
    }
    auto line = text.substr(0, end);
    text.remove_prefix(end + 1);
    auto equals = line.find('=');
    if (equals == std::string_view::npos) {
      return std::nullopt;
    }
    auto key = line.substr(0, equals);
    if (!parse_record_field(key, line.substr(equals + 1), holder)) {
      return std::nullopt;
    }
    has_pid = has_pid || key == "pid";
  }
  if (!has_pid) {
    return std::nullopt;
  }
  return holder;
}

inline void write_whole(int fd, std::string_view text) {
  while (!text.empty()) {
    auto written = ::write(fd, text.data(), text.size());
    if (written < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw std::system_error(errno, std::system_category());
    }
    text.remove_prefix(static_cast<std::size_t>(written));
  }
}

/// Writes `holder` as the record `name`, atomically.
/// @throws LockDirError when the directory cannot take it (full, read-only, removed).
inline void write_record(const LockDirectory& directory, const std::string& name, const Holder& holder) {
  auto temporary = fmt::format(".{}.{}.tmp", name, ::getpid());
  try {
    UniqueFd file(::openat(directory.fd.get(), temporary.c_str(),
                           O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0644));
    if (!file) {
      throw std::system_error(errno, std::system_category());
    }
    write_whole(file.get(), format_record(holder));
    file.reset();
    reached_step("record-temporary-written");
    if (::renameat(directory.fd.get(), temporary.c_str(), directory.fd.get(), name.c_str()) != 0) {
      throw std::system_error(errno, std::system_category());
    }
  } catch (const std::system_error& error) {
    ::unlinkat(directory.fd.get(), temporary.c_str(), 0);
    throw LockDirError(
        fmt::format("cannot write the holder record {} in {}: {}; make room in or fix the "
                    "permissions of the lock directory",
                    name, directory.path.string(), error.code().message()));
  }
}

/// Reads the record `name`; nullopt when it is missing, not a regular file, too large or malformed.
inline std::optional<Holder> read_record(const LockDirectory& directory, const std::string& name) {
  UniqueFd file(::openat(directory.fd.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  struct stat status {};
  if (!file || ::fstat(file.get(), &status) != 0 || !S_ISREG(status.st_mode) ||
      status.st_size > static_cast<off_t>(max_record_size)) {
    return std::nullopt;
  }
  std::array<char, max_record_size + 1> buffer{};
  std::size_t size = 0;
  while (size < buffer.size()) {
    auto count = ::read(file.get(), buffer.data() + size, buffer.size() - size);
    if (count < 0 && errno == EINTR) {
      continue;
    }
    if (count <= 0) {
      break;
    }
    size += static_cast<std::size_t>(count);
  }
  return parse_record(std::string_view(buffer.data(), size));
}

inline void remove_record(const LockDirectory& directory, const std::string& name) noexcept {
  ::unlinkat(directory.fd.get(), name.c_str(), 0);
}

}  // namespace portpool::detail
