#include "companion_files.hpp"

namespace portpool::cli {
namespace {

std::filesystem::path this_executable_directory() {
  std::error_code error;
  auto executable = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? std::filesystem::path() : executable.parent_path();
}

}  // namespace

std::array<std::filesystem::path, 2> companion_candidates(const std::string& name) {
  auto directory = this_executable_directory();
  return {directory / name, (directory / PORTPOOL_COMPANION_INSTALLED_DIRECTORY / name).lexically_normal()};
}

std::optional<std::filesystem::path> find_companion(const std::string& name) {
  for (const auto& candidate : companion_candidates(name)) {
    std::error_code error;
    if (std::filesystem::is_regular_file(candidate, error)) {
      return candidate;
    }
  }
  return std::nullopt;
}

}  // namespace portpool::cli
