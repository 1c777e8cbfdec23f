// IPFS Cluster's REST API (v1 paths, parameters and JSON) over http::Server,
// so existing IPFS Cluster clients work against a Trellis peer unchanged.
// Routes and formats: docs/rest-api.md.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "daemon/http_api.h"

namespace trellis {

class PinLister;
class Service;

class RestApi : public HttpApi {
 public:
  RestApi(Service& service, const HttpApiConfig& config);
  ~RestApi() override;

 private:
  net::awaitable<void> handle(http::Request& req, http::Responder& r) override;
  net::awaitable<void> route(http::Request& req, http::Responder& r);
  net::awaitable<void> remove_peer(std::string id, http::Responder& r);
  // daemon/rest_pins.cc
  net::awaitable<void> pin_routes(http::Request& req, http::Responder& r,
                                  const std::vector<std::string>& parts);

  std::unique_ptr<PinLister> lister_;  // GET /allocations
};

}  // namespace trellis
