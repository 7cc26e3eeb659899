// A program that links the installed fleet component: a holder encoded for etcd reads back.

#include <portpool/fleet/etcd_client.hpp>
#include <portpool/fleet/fleet_holder.hpp>

#include <iostream>

int main() {
  portpool::Holder local;
  local.port = 9000;
  local.service = "api-server";
  local.pid = 1;
  local.instance = 1;
  local.instance_id = "consumer";
  auto holder = portpool::fleet::fleet_holder_of(local, "host-a", "127.0.0.1", "");
  auto key = portpool::fleet::port_key(portpool::fleet::default_prefix, "host-a", 9000);
  auto decoded =
      portpool::fleet::decode_holder(portpool::fleet::default_prefix, key, portpool::fleet::encode_holder(holder));
  portpool::fleet::EtcdOptions options;
  options.endpoints = {"http://127.0.0.1:1"};
  portpool::fleet::EtcdClient client(options);  // links gRPC; connects lazily, never here
  std::cout << "fleet consumer: " << decoded.address << '\n';
  return decoded == holder ? 0 : 1;
}
