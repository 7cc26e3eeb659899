#pragma once

// Reads a ServicePortTable from a parsed TOML document. The config file is written by people and
// by other tools, so every value is checked against the schema and every problem is reported with
// the file, line and column it comes from: a misspelt key must not silently fall back to a default.

#include <portpool/detail/printable_text.hpp>
#include <portpool/error.hpp>
#include <portpool/service_port_table.hpp>

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace portpool::detail {

inline constexpr std::int64_t highest_port = 65535;

class ConfigReader {
 public:
  explicit ConfigReader(std::string source_name) : source_name_(std::move(source_name)) {}

  ServicePortTable read(std::string_view text) const {
    toml::table root;
    try {
      root = toml::parse(text, source_name_);
    } catch (const toml::parse_error& error) {
      fail(error.source(), fmt::format("invalid TOML: {}", error.description()));
    }
    reject_unknown_keys(root, {"instances", "services"}, "at the top level", "expected [instances] or [services.NAME]");
    ServicePortTable table(read_layout(root));
    read_services(root, table);
    try {
      table.validate();
    } catch (const ConfigError& error) {
      throw ConfigError(fmt::format("{}: {}", printable_text(source_name_), error.what()));
    }
    return table;
  }

 private:
  [[noreturn]] void fail(const toml::source_region& where, std::string_view message) const {
    throw ConfigError(
        fmt::format("{}:{}:{}: {}", printable_text(source_name_), where.begin.line, where.begin.column, message));
  }

  void reject_unknown_keys(const toml::table& table, std::initializer_list<std::string_view> known,
                           std::string_view where, std::string_view expected) const {
    for (const auto& [key, value] : table) {
      if (std::find(known.begin(), known.end(), key.str()) == known.end()) {
        fail(key.source(), fmt::format("unknown key '{}' {}: {}", printable_text(key.str()), where, expected));
      }
    }
  }

  const toml::table& require_table(const toml::node& node, std::string_view what, std::string_view expected) const {
    const auto* table = node.as_table();
    if (table == nullptr) {
      fail(node.source(), fmt::format("{} must be a table, not {}: {}", what, fmt::streamed(node.type()), expected));
    }
    return *table;
  }

  unsigned integer(const toml::node& node, std::string_view what, std::int64_t lowest, std::int64_t highest) const {
    const auto* number = node.as_integer();
    if (number == nullptr) {
      fail(node.source(), fmt::format("{} must be an integer from {} to {}, not {}", what, lowest, highest,
                                      fmt::streamed(node.type())));
    }
    auto value = number->get();
    if (value < lowest || value > highest) {
      fail(node.source(), fmt::format("{} is {}, outside {} to {}", what, value, lowest, highest));
    }
    return static_cast<unsigned>(value);
  }

  InstanceLayout read_layout(const toml::table& root) const {
    InstanceLayout layout;
    const auto* node = root.get("instances");
    if (node == nullptr) {
      return layout;
    }
    constexpr std::string_view expected = "expected base, stride and max (integers)";
    const auto& instances = require_table(*node, "[instances]", expected);
    reject_unknown_keys(instances, {"base", "stride", "max"}, "in [instances]", expected);
    if (const auto* base = instances.get("base")) {
      layout.base = integer(*base, "[instances] base (the first port of instance 1)", 1, highest_port);
    }
    if (const auto* stride = instances.get("stride")) {
      layout.stride = integer(*stride, "[instances] stride (the distance between instances)", 1, highest_port);
    }
    if (const auto* max = instances.get("max")) {
      layout.max = integer(*max, "[instances] max (the highest instance number)", 1, highest_port);
    }
    return layout;
  }

  struct Entry {
    const toml::key* key;
    const toml::node* value;
  };

  // toml++ keeps a table's keys sorted; the file's order is the order people wrote the services in.
  static std::vector<Entry> in_file_order(const toml::table& table) {
    std::vector<Entry> entries;
    for (const auto& [key, value] : table) {
      entries.push_back({&key, &value});
    }
    std::sort(entries.begin(), entries.end(), [](const Entry& left, const Entry& right) {
      const auto& a = left.key->source().begin;
      const auto& b = right.key->source().begin;
      return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
    return entries;
  }

  void read_services(const toml::table& root, ServicePortTable& table) const {
    const auto* node = root.get("services");
    if (node == nullptr) {
      return;
    }
    const auto& services = require_table(*node, "[services]", "expected one [services.NAME] table per service");
    for (const auto& entry : in_file_order(services)) {
      read_service(*entry.key, *entry.value, table);
    }
  }

  void read_service(const toml::key& name, const toml::node& node, ServicePortTable& table) const {
    auto heading = fmt::format("[services.{}]", name.str());
    constexpr std::string_view expected =
        "expected offset and size (a pool per instance), or ports or range (a pool shared by all instances)";
    const auto& service = require_table(node, heading, expected);
    reject_unknown_keys(service,
                        {"offset", "size", "ports", "range", "allow_fetch_blocked_ports", "scope", "transport",
                         "protocol", "health", "version", "tags", "meta"},
                        fmt::format("in {}", heading), expected);
    const bool per_instance = service.contains("offset") || service.contains("size");
    const int kinds = int{per_instance} + int{service.contains("ports")} + int{service.contains("range")};
    if (kinds != 1) {
      fail(name.source(),
           fmt::format("{} {}: {}", heading, kinds == 0 ? "has no pool" : "defines more than one pool", expected));
    }
    auto service_name = std::string(name.str());
    if (per_instance) {
      const auto pool = read_instance_pool(name, service);
      add(name, [&] { table.add_instance_pool(service_name, pool.offset, pool.size); });
    } else if (const auto* ports = service.get("ports")) {
      auto list = read_ports(*ports, heading + " ports", 0);
      add(name, [&] { table.add_shared_pool(service_name, list); });
    } else {
      auto bounds = read_ports(*service.get("range"), heading + " range", 2);
      add(name, [&] { table.add_shared_range(service_name, bounds.front(), bounds.back()); });
    }
    if (const auto* scope = service.get("scope")) {
      table.set_scope(service_name, read_scope(*scope, heading));
    }
    if (const auto* transport = service.get("transport")) {
      table.set_transport(service_name, read_transport(*transport, heading));
    }
    if (const auto* allow = service.get("allow_fetch_blocked_ports")) {
      table.allow_fetch_blocked_ports(service_name, boolean(*allow, heading + " allow_fetch_blocked_ports"));
    }
    auto description = read_description(service, heading);
    if (!description.empty()) {
      add(name, [&] { table.describe(service_name, std::move(description)); });
    }
  }

  // The service's description: protocol, health, version (strings), tags (a list of strings) and
  // meta (a table of strings). Their limits are checked by ServicePortTable::describe().
  ServiceDescription read_description(const toml::table& service, const std::string& heading) const {
    ServiceDescription description;
    if (const auto* protocol = service.get("protocol")) {
      description.protocol = text(*protocol, heading + " protocol");
    }
    if (const auto* health = service.get("health")) {
      description.health_path = text(*health, heading + " health");
    }
    if (const auto* version = service.get("version")) {
      description.version = text(*version, heading + " version");
    }
    if (const auto* tags = service.get("tags")) {
      const auto* list = tags->as_array();
      if (list == nullptr) {
        fail(tags->source(), fmt::format(R"({} tags must be a list of strings such as ["mcp", "local"], not {})",
                                         heading, fmt::streamed(tags->type())));
      }
      for (const auto& tag : *list) {
        description.tags.push_back(text(tag, fmt::format("a tag in {} tags", heading)));
      }
    }
    if (const auto* meta = service.get("meta")) {
      const auto& entries =
          require_table(*meta, heading + " meta", R"(expected a table of strings such as { type = "mcp" })");
      for (const auto& [key, value] : entries) {
        description.metadata[std::string(key.str())] = text(value, fmt::format("{} meta.{}", heading, key.str()));
      }
    }
    return description;
  }

  std::string text(const toml::node& node, std::string_view what) const {
    const auto* value = node.as_string();
    if (value == nullptr) {
      fail(node.source(), fmt::format("{} must be a string, not {}", what, fmt::streamed(node.type())));
    }
    return value->get();
  }

  bool boolean(const toml::node& node, std::string_view what) const {
    const auto* value = node.as_boolean();
    if (value == nullptr) {
      fail(node.source(), fmt::format("{} must be true or false, not {}", what, fmt::streamed(node.type())));
    }
    return value->get();
  }

  PoolScope read_scope(const toml::node& node, const std::string& heading) const {
    const auto* text = node.as_string();
    if (text != nullptr && text->get() == "host") {
      return PoolScope::host;
    }
    if (text != nullptr && text->get() == "fleet") {
      return PoolScope::fleet;
    }
    fail(node.source(), fmt::format("{} scope must be \"host\" (exclusive on each host, the default) or \"fleet\" "
                                    "(exclusive across every host)",
                                    heading));
  }

  Transport read_transport(const toml::node& node, const std::string& heading) const {
    const auto* name = node.as_string();
    if (auto transport = name != nullptr ? parse_transport(name->get()) : std::nullopt) {
      return *transport;
    }
    fail(node.source(), fmt::format("{} transport must be \"tcp\" (the default), \"udp\" or \"both\" (one port "
                                    "served on TCP and UDP)",
                                    heading));
  }

  // The table's own checks (name, repeated port, reversed range) are reported at the service.
  template <class Add>
  void add(const toml::key& name, Add add_to_table) const {
    try {
      add_to_table();
    } catch (const ConfigError& error) {
      fail(name.source(), error.what());
    }
  }

  struct InstancePool {
    unsigned offset;
    unsigned size;
  };

  InstancePool read_instance_pool(const toml::key& name, const toml::table& service) const {
    const auto* offset = service.get("offset");
    const auto* size = service.get("size");
    if (offset == nullptr || size == nullptr) {
      fail(name.source(), fmt::format("[services.{}] has {} but no {}: a pool per instance needs both", name.str(),
                                      offset == nullptr ? "size" : "offset", offset == nullptr ? "offset" : "size"));
    }
    return {integer(*offset, fmt::format("[services.{}] offset", name.str()), 0, highest_port),
            integer(*size, fmt::format("[services.{}] size", name.str()), 1, highest_port)};
  }

  // `exact_count` 0 accepts any non-empty list.
  std::vector<unsigned> read_ports(const toml::node& node, const std::string& what, std::size_t exact_count) const {
    auto expected = exact_count == 2 ? std::string("a list [first, last] of two ports (inclusive)")
                                     : std::string("a list of ports such as [9000, 9001]");
    const auto* list = node.as_array();
    if (list == nullptr) {
      fail(node.source(), fmt::format("{} must be {}, not {}", what, expected, fmt::streamed(node.type())));
    }
    if (list->empty() || (exact_count != 0 && list->size() != exact_count)) {
      fail(node.source(), fmt::format("{} must be {} (it has {} entries)", what, expected, list->size()));
    }
    std::vector<unsigned> ports;
    for (const auto& element : *list) {
      ports.push_back(integer(element, fmt::format("a port in {}", what), 1, highest_port));
    }
    return ports;
  }

  std::string source_name_;
};

}  // namespace portpool::detail
