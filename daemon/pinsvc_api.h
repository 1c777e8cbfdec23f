// The IPFS Pinning Service API (ipfs/pinning-services-api-spec v1) on its
// own port (default 127.0.0.1:9097), so `ipfs pin remote` and the
// pinning-service clients can use a Trellis cluster. The request ID of a pin
// is its CID, as in IPFS Cluster. Routes and formats: docs/rest-api.md.
#pragma once

#include <nlohmann/json.hpp>

#include "daemon/http_api.h"

namespace trellis {

class Service;

class PinSvcApi : public HttpApi {
 public:
  PinSvcApi(Service& service, const HttpApiConfig& config);

 private:
  net::awaitable<void> handle(http::Request& req, http::Responder& r) override;
  net::awaitable<void> list(http::Request& req, http::Responder& r);
  net::awaitable<nlohmann::json> ipfs_addresses();
};

}  // namespace trellis
