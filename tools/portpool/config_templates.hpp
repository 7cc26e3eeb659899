#pragma once

// `run --template SRC:DST`: config files of servers that read their port only from a file (nginx,
// haproxy, redis). Before each start of CMD, SRC is rendered into DST with `{port}`, `{instance}`
// and `{service}` replaced; DST is replaced in one rename, so that CMD never reads half a file.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace portpool::cli {

struct ConfigTemplate {
  std::filesystem::path source;
  std::filesystem::path destination;
};

/// What the placeholders stand for.
struct TemplateValues {
  std::uint16_t port = 0;
  unsigned instance = 0;
  std::string service;
};

/// The templates of `--template SRC:DST` options, checked before any port is taken: SRC readable,
/// DST's directory existing, DST not SRC.
/// @throws UsageError naming the option and what is wrong.
std::vector<ConfigTemplate> parse_templates(const std::vector<std::string>& options);

/// `text` with every `{port}`, `{instance}` and `{service}` replaced; other braces are left as they are.
std::string render_template(const std::string& text, const TemplateValues& values);

/// Renders each template into its destination (a temporary file beside it, with SRC's permission
/// bits, then a rename over DST).
/// @throws CommandError (71) naming the file when it cannot be read or written; DST is then unchanged.
void render_templates(const std::vector<ConfigTemplate>& templates, const TemplateValues& values);

}  // namespace portpool::cli
