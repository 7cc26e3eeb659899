#include "etcd_arguments.hpp"

#include <cstdlib>

namespace portpool::fleet_command_line {

void add_etcd_options(CLI::App& command, EtcdArguments& arguments) {
  command.add_option("--etcd", arguments.endpoints, "etcd client URLs, comma-separated (http://HOST:PORT)")
      ->delimiter(',')
      ->allow_extra_args(false)  // one argument: the next one may be a command's SERVICE
      ->type_name("URL[,URL...]");
  command.add_option("--prefix", arguments.prefix, "etcd key prefix (default /portpool/v1)")->type_name("PREFIX");
  command.add_option("--cacert", arguments.ca_file, "PEM file of the CA that signed etcd's certificate (TLS)")
      ->type_name("FILE");
  command.add_option("--cert", arguments.cert_file, "PEM client certificate for etcd (TLS)")->type_name("FILE");
  command.add_option("--key", arguments.key_file, "PEM key of the client certificate (TLS)")->type_name("FILE");
  command.add_option("--user", arguments.user, "etcd user name")->type_name("NAME");
  command
      .add_option("--password", arguments.password,
                  "etcd password (default: $PORTPOOL_ETCD_PASSWORD, which other users cannot read in ps)")
      ->type_name("PASSWORD");
  if (const char* password = std::getenv("PORTPOOL_ETCD_PASSWORD")) {
    arguments.password = password;
  }
}

fleet::EtcdOptions etcd_options_of(const EtcdArguments& arguments) {
  fleet::EtcdOptions options;
  options.endpoints = arguments.endpoints;
  options.ca_file = arguments.ca_file;
  options.cert_file = arguments.cert_file;
  options.key_file = arguments.key_file;
  options.user = arguments.user;
  options.password = arguments.password;
  return options;
}

}  // namespace portpool::fleet_command_line
