#include "description_options.hpp"

#include "exit_codes.hpp"

#include <fmt/format.h>

#include <string_view>

namespace portpool::cli {

void add_description_options(CLI::App& command, DescriptionArguments& arguments) {
  command
      .add_option("--transport", arguments.transport,
                  "sockets the port is free and held for: tcp, udp, or both (one port on TCP and UDP); default: "
                  "the service's transport in the table, else tcp")
      ->type_name("tcp|udp|both")
      ->check(
          [](const std::string& value) {
            return parse_transport(value) ? std::string()
                                          : fmt::format("'{}' is not a transport: give tcp, udp or both", value);
          },
          "");
  command
      .add_option("--protocol", arguments.protocol,
                  "protocol served on the port, for the registry (http, ws, grpc, tcp...)")
      ->type_name("NAME");
  command.add_option("--health", arguments.health_path, "HTTP health path served on the port, such as /health")
      ->type_name("PATH");
  command.add_option("--service-version", arguments.version, "version of the service, for the registry")
      ->type_name("VERSION");
  command.add_option("--tag", arguments.tags, "a tag for the registry (repeatable)")
      ->type_name("TAG")
      ->allow_extra_args(false);  // one value per --tag: SERVICE follows
  command.add_option("--meta", arguments.metadata, "metadata for the registry (repeatable)")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
}

ServiceDescription description_from(const DescriptionArguments& arguments) {
  ServiceDescription description;
  description.protocol = arguments.protocol;
  description.health_path = arguments.health_path;
  description.version = arguments.version;
  description.tags = arguments.tags;
  for (const auto& entry : arguments.metadata) {
    auto equals = entry.find('=');
    if (equals == std::string::npos) {
      throw UsageError(fmt::format("--meta {} has no '=': write --meta KEY=VALUE", entry));
    }
    auto key = entry.substr(0, equals);
    if (!description.metadata.emplace(key, entry.substr(equals + 1)).second) {
      throw UsageError(fmt::format("--meta {} is given twice: give each metadata key once", key));
    }
  }
  try {
    validate_description(description);
  } catch (const ConfigError& error) {
    throw UsageError(error.what());
  }
  return description;
}

Transport transport_from(const DescriptionArguments& arguments, const ServicePortTable& table,
                         const std::string& service) {
  if (auto given = parse_transport(arguments.transport)) {
    return *given;
  }
  return table.transport(service);
}

std::string description_summary(const ServiceDescription& description) {
  std::string summary;
  auto append = [&summary](std::string_view part) {
    if (!part.empty()) {
      summary += summary.empty() ? "" : " ";
      summary += part;
    }
  };
  append(description.protocol);
  append(description.health_path);
  append(description.version);
  append(description.tags.empty() ? std::string() : fmt::format("[{}]", fmt::join(description.tags, ",")));
  return summary.empty() ? "-" : summary;
}

std::string service_text(const Holder& holder) {
  return holder.verified ? holder.service : holder.service + " (unverified)";
}

}  // namespace portpool::cli
