// IPFS Cluster's REST API (v1 paths, parameters and JSON) over http::Server,
// so existing IPFS Cluster clients work against a Trellis peer unchanged.
// Routes and formats: docs/rest-api.md.
#pragma once

#include <memory>
#include <string>

#include "daemon/config.h"
#include "daemon/http_server.h"

namespace trellis {

class Service;

class RestApi {
 public:
  RestApi(Service& service, const HttpApiConfig& config);
  ~RestApi();
  // Refuses an address off loopback without credentials.
  Status start();
  void stop();
  uint16_t port() const;

 private:
  net::awaitable<void> handle(http::Request& req, http::Responder& r);
  net::awaitable<void> route(http::Request& req, http::Responder& r);
  // daemon/rest_pins.cc
  net::awaitable<void> pin_routes(http::Request& req, http::Responder& r,
                                  const std::vector<std::string>& parts);

  Service& service_;
  HttpApiConfig config_;
  std::unique_ptr<http::Server> server_;
};

// Server options (listen address, limits, TLS) from a config section.
Result<http::ServerOptions> server_options(const HttpApiConfig& config, const std::string& name);

}  // namespace trellis
