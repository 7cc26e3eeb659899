#pragma once

// The bodies of Registry (included at the end of registry.hpp, or by <portpool/src.hpp> under
// PORTPOOL_SEPARATE_COMPILATION).

#include <portpool/detail/names.hpp>
#include <portpool/detail/parse_number.hpp>
#include <portpool/impl/lock_directory.hpp>
#include <portpool/impl/lock_file.hpp>
#include <portpool/unique_fd.hpp>

#include <dirent.h>
#include <fcntl.h>

#include <algorithm>
#include <utility>

namespace portpool {

PORTPOOL_DECL std::vector<Holder> Registry::holders(const std::filesystem::path& lock_dir) {
  Options options;
  options.lock_dir = lock_dir;
  return holders(options);
}

PORTPOOL_DECL std::vector<Holder> Registry::holders(const Options& options) {
  std::vector<Holder> found;
  auto directory = detail::open_lock_dir(options.lock_dir, options.shared_lock_dir, false);
  if (!directory) {
    return found;
  }
  for (auto port : lock_file_numbers(*directory, detail::port_of_lock_name)) {
    if (auto holder = live_holder(*directory, port)) {
      found.push_back(std::move(*holder));
    }
  }
  std::sort(found.begin(), found.end(), [](const Holder& a, const Holder& b) { return a.port < b.port; });
  return found;
}

PORTPOOL_DECL std::vector<Holder> Registry::instance_holders(const Options& options) {
  std::vector<Holder> found;
  auto directory = detail::open_lock_dir(options.lock_dir, options.shared_lock_dir, false);
  if (!directory) {
    return found;
  }
  for (auto number : lock_file_numbers(*directory, detail::instance_of_lock_name)) {
    auto holder = detail::recorded_holder(*directory, detail::instance_lock_name(number));
    if (holder && holder->instance == number) {  // else free, not recorded yet, or a forged record
      found.push_back(std::move(*holder));
    }
  }
  std::sort(found.begin(), found.end(), [](const Holder& a, const Holder& b) { return a.instance < b.instance; });
  return found;
}

PORTPOOL_DECL std::optional<Holder> Registry::holder_of(std::uint16_t port, const Options& options) {
  auto directory = detail::open_lock_dir(options.lock_dir, options.shared_lock_dir, false);
  return directory ? live_holder(*directory, port) : std::nullopt;
}

PORTPOOL_DECL std::optional<Holder> Registry::live_holder(const detail::LockDirectory& directory, std::uint16_t port) {
  auto holder = detail::recorded_holder(directory, detail::port_lock_name(port));
  if (!holder || holder->port != port) {
    return std::nullopt;  // free, or its holder cannot be named (not recorded yet, or a forged record)
  }
  return holder;
}

template <class Number>
std::vector<Number> Registry::lock_file_numbers(const detail::LockDirectory& directory,
                                                std::optional<Number> (*number_of)(std::string_view)) {
  std::vector<Number> numbers;
  UniqueFd listing(::openat(directory.fd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  DIR* stream = listing ? ::fdopendir(listing.get()) : nullptr;
  if (stream == nullptr) {
    return numbers;
  }
  static_cast<void>(listing.release());  // now owned by the stream
  while (const dirent* entry = ::readdir(stream)) {
    if (auto number = number_of(entry->d_name)) {
      numbers.push_back(*number);
    }
  }
  ::closedir(stream);
  return numbers;
}

}  // namespace portpool
