#include "fleet_listing_json.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <string_view>

namespace portpool::fleet_command_line {
namespace {

bool needs_no_escape(char c) {
  auto byte = static_cast<unsigned char>(c);
  return byte >= 0x20 && byte < 0x7f && c != '"' && c != '\\';
}

// A JSON string. Decoded records hold printable ASCII only, written as is; a holder built
// otherwise still gives valid JSON: controls are escaped, and bytes beyond ASCII (which the
// record schema never admits) become U+FFFD.
void append_string(std::string& out, std::string_view text) {
  out += '"';
  if (std::all_of(text.begin(), text.end(), needs_no_escape)) {
    out += text;
  } else {
    for (char c : text) {
      auto byte = static_cast<unsigned char>(c);
      if (needs_no_escape(c)) {
        out += c;
      } else if (c == '"' || c == '\\') {
        out += '\\';
        out += c;
      } else if (byte < 0x80) {
        fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<unsigned>(byte));
      } else {
        out += "\\ufffd";
      }
    }
  }
  out += '"';
}

template <class Integer>
void append_integer(std::string& out, Integer value) {
  fmt::format_int digits(value);
  out.append(digits.data(), digits.size());
}

}  // namespace

void append_fleet_holder_json(std::string& out, const fleet::FleetHolder& holder) {
  out += R"({"host":)";
  append_string(out, holder.host);
  out += R"(,"port":)";
  append_integer(out, holder.port);
  out += R"(,"service":)";
  append_string(out, holder.service);
  out += R"(,"transport":)";
  append_string(out, to_string(holder.transport));
  out += R"(,"pid":)";
  append_integer(out, holder.pid);
  out += R"(,"instance":)";
  append_integer(out, holder.instance);
  out += R"(,"instance_id":)";
  append_string(out, holder.instance_id);
  out += R"(,"address":)";
  append_string(out, holder.address);
  out += R"(,"since":)";
  append_string(out, fleet::iso8601_utc(holder.since));
  out += R"(,"readiness":)";
  append_string(out, to_string(holder.readiness));
  out += R"(,"boot_id":)";
  append_string(out, holder.boot_id);
  out += '}';
}

std::string fleet_snapshot_json_text(const fleet::FleetSnapshot& snapshot) {
  constexpr std::size_t typical_holder_size = 256;
  std::string out;
  out.reserve(64 + snapshot.holders.size() * typical_holder_size);
  out += R"({"revision":)";
  append_integer(out, snapshot.revision);
  out += R"(,"holders":[)";
  for (std::size_t index = 0; index < snapshot.holders.size(); ++index) {
    out += index == 0 ? "\n" : ",\n";
    append_fleet_holder_json(out, snapshot.holders[index]);
  }
  out += snapshot.holders.empty() ? "]}\n" : "\n]}\n";
  return out;
}

nlohmann::ordered_json fleet_holder_json(const fleet::FleetHolder& holder) {
  std::string text;
  append_fleet_holder_json(text, holder);
  return nlohmann::ordered_json::parse(text);
}

nlohmann::ordered_json fleet_snapshot_json(const fleet::FleetSnapshot& snapshot) {
  return nlohmann::ordered_json::parse(fleet_snapshot_json_text(snapshot));
}

}  // namespace portpool::fleet_command_line
