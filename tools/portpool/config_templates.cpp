#include "config_templates.hpp"

#include "exit_codes.hpp"

#include <portpool/unique_fd.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>

namespace portpool::cli {
namespace {

[[noreturn]] void fail_to_write(const std::filesystem::path& destination, const std::string& step, int error) {
  throw CommandError(fmt::format("--template: cannot write {} ({}: {}); CMD was not started with it",
                                 destination.string(), step, std::strerror(error)),
                     exit_code::system_failure);
}

std::string read_source(const ConfigTemplate& config) {
  std::ifstream file(config.source, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  if (!file) {
    throw CommandError(fmt::format("--template: cannot read {}: {}", config.source.string(), std::strerror(errno)),
                       exit_code::system_failure);
  }
  return text.str();
}

void write_all(int descriptor, const std::string& text, const std::filesystem::path& destination) {
  std::size_t written = 0;
  while (written < text.size()) {
    auto count = ::write(descriptor, text.data() + written, text.size() - written);
    if (count < 0 && errno == EINTR) {
      continue;
    }
    if (count < 0) {
      fail_to_write(destination, "write", errno);
    }
    written += static_cast<std::size_t>(count);
  }
}

void replace_file(const ConfigTemplate& config, const std::string& text) {
  auto temporary = config.destination;
  temporary += ".portpool-XXXXXX";
  auto name = temporary.string();
  UniqueFd file(::mkostemp(name.data(), O_CLOEXEC));
  if (!file) {
    fail_to_write(config.destination, "a temporary file beside it", errno);
  }
  struct stat source {};
  const bool ok = ::stat(config.source.c_str(), &source) == 0 && ::fchmod(file.get(), source.st_mode & 07777) == 0;
  const int error = errno;
  if (!ok) {
    ::unlink(name.c_str());
    fail_to_write(config.destination, "permissions", error);
  }
  try {
    write_all(file.get(), text, config.destination);
  } catch (...) {
    ::unlink(name.c_str());
    throw;
  }
  if (::fsync(file.get()) != 0 || ::rename(name.c_str(), config.destination.c_str()) != 0) {
    const int failure = errno;
    ::unlink(name.c_str());
    fail_to_write(config.destination, "rename", failure);
  }
}

ConfigTemplate parse_template(const std::string& option) {
  auto colon = option.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == option.size()) {
    throw UsageError(
        fmt::format("--template {} is not SRC:DST: give the template and the file to write, "
                    "as --template nginx.conf.in:nginx.conf",
                    option));
  }
  ConfigTemplate config{option.substr(0, colon), option.substr(colon + 1)};
  if (::access(config.source.c_str(), R_OK) != 0 || std::filesystem::is_directory(config.source)) {
    throw UsageError(fmt::format("--template {}: cannot read the template {}", option, config.source.string()));
  }
  auto directory =
      config.destination.parent_path().empty() ? std::filesystem::path(".") : config.destination.parent_path();
  std::error_code error;
  if (!std::filesystem::is_directory(directory, error)) {
    throw UsageError(
        fmt::format("--template {}: the directory of {} does not exist", option, config.destination.string()));
  }
  if (std::filesystem::equivalent(config.source, config.destination, error)) {
    throw UsageError(fmt::format("--template {}: the file to write is the template itself", option));
  }
  return config;
}

}  // namespace

std::vector<ConfigTemplate> parse_templates(const std::vector<std::string>& options) {
  std::vector<ConfigTemplate> templates;
  templates.reserve(options.size());
  for (const auto& option : options) {
    templates.push_back(parse_template(option));
  }
  return templates;
}

std::string render_template(const std::string& text, const TemplateValues& values) {
  const std::array<std::pair<std::string, std::string>, 3> placeholders{
      {{"{port}", std::to_string(values.port)},
       {"{instance}", std::to_string(values.instance)},
       {"{service}", values.service}}};
  std::string rendered;
  rendered.reserve(text.size());
  for (std::size_t position = 0; position < text.size();) {
    bool replaced = false;
    for (const auto& [name, value] : placeholders) {
      if (text.compare(position, name.size(), name) == 0) {
        rendered += value;
        position += name.size();
        replaced = true;
        break;
      }
    }
    if (!replaced) {
      rendered += text[position++];
    }
  }
  return rendered;
}

void render_templates(const std::vector<ConfigTemplate>& templates, const TemplateValues& values) {
  for (const auto& config : templates) {
    replace_file(config, render_template(read_source(config), values));
  }
}

}  // namespace portpool::cli
