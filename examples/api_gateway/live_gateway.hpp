#pragma once

// What the gateway serves beside its API routes: the live event stream (GET /api/events, as a
// WebSocket or as server-sent events), the state of every pool of its table (GET /api/pools) and
// the dashboard page that shows both (GET /). Everything else goes to the Router.

#include "event_stream.hpp"
#include "request_handler.hpp"
#include "routes.hpp"

#include <portpool/options.hpp>
#include <portpool/service_port_table.hpp>

#include <memory>
#include <string>

namespace api_gateway {

class LiveGateway : public portpool_example::RequestHandler {
 public:
  LiveGateway(std::unique_ptr<Router> api, std::shared_ptr<EventHub> events, portpool::ServicePortTable table,
              unsigned instance, portpool::Options registry_options, std::string server_name);

  void handle(const Request& request, Respond respond) override;
  Response reject_unreadable(const std::string& reason) override;
  bool take_over(const Request& request, boost::beast::tcp_stream& stream) override;
  void shutdown() override;

 private:
  Response pools() const;

  std::unique_ptr<Router> api_;
  std::shared_ptr<EventHub> events_;
  portpool::ServicePortTable table_;
  unsigned instance_;
  portpool::Options registry_options_;
  std::string server_name_;
};

}  // namespace api_gateway
