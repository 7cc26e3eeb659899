#pragma once

// The flags that describe what a held port serves (--transport, --protocol, --health,
// --service-version, --tag, --meta KEY=VALUE), shared by the commands that take ports.

#include <portpool/holder.hpp>
#include <portpool/service_description.hpp>
#include <portpool/service_port_table.hpp>
#include <portpool/transport.hpp>

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace portpool::cli {

struct DescriptionArguments {
  std::string transport;  ///< empty: the table's
  std::string protocol;
  std::string health_path;
  std::string version;
  std::vector<std::string> tags;
  std::vector<std::string> metadata;  // "KEY=VALUE" as given
};

void add_description_options(CLI::App& command, DescriptionArguments& arguments);

/// The description the flags give; fields they leave empty are filled from the table's
/// description of the service when the manager is built.
/// @throws UsageError when a flag's value is malformed or over its limit.
ServiceDescription description_from(const DescriptionArguments& arguments);

/// The transport of `service` (a service of `table`): --transport when given (checked by the
/// parser), else the table's (`transport = "udp"`).
Transport transport_from(const DescriptionArguments& arguments, const ServicePortTable& table,
                         const std::string& service);

/// A one-cell summary of `description` for status tables, such as "http /health 1.2 [a,b]";
/// "-" when empty.
std::string description_summary(const ServiceDescription& description);

/// The holder's service for status lines, marked "(unverified)" when any member of a shared lock
/// directory could have written its record (`Holder::verified`).
std::string service_text(const Holder& holder);

}  // namespace portpool::cli
