#pragma once

// What the gateway serves beside its API routes: the live event stream (GET /api/events, as a
// WebSocket or as server-sent events), the state of every pool of its table (GET /api/pools) and
// the dashboard page that shows both (GET /). Everything else goes to the Router.
//
// A WebSocket is not covered by the browser's same-origin policy: any page the user visits could
// open one to 127.0.0.1 and read the registry. So these three answer only requests whose Host is
// this gateway's loopback address or localhost (not a rebound DNS name) and whose Origin, when
// there is one, is the dashboard's own; others get 403.

#include "event_stream.hpp"
#include "request_handler.hpp"
#include "routes.hpp"

#include <portpool/options.hpp>
#include <portpool/service_port_table.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace api_gateway {

class LiveGateway : public portpool_example::RequestHandler {
 public:
  LiveGateway(std::unique_ptr<Router> api, std::shared_ptr<EventHub> events, portpool::ServicePortTable table,
              unsigned instance, std::uint16_t port, portpool::Options registry_options, std::string server_name);

  void handle(const Request& request, Respond respond) override;
  Response refuse(http::status status, const std::string& reason) override;
  std::shared_ptr<portpool_example::Connection> take_over(const Request& request, boost::beast::tcp_stream& stream,
                                                          const std::function<void()>& on_closed) override;
  void shutdown() override;

 private:
  Response pools() const;
  bool from_this_machine(const Request& request) const;

  std::unique_ptr<Router> api_;
  std::shared_ptr<EventHub> events_;
  portpool::ServicePortTable table_;
  unsigned instance_;
  std::uint16_t port_;
  portpool::Options registry_options_;
  std::string server_name_;
};

}  // namespace api_gateway
