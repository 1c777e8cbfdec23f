// One HTTP API of a Service on its own listener (the REST API, the Pinning
// Service API): the server, its options from the config section, and the
// mapping of errors to HTTP statuses.
#pragma once

#include <memory>
#include <string>

#include "daemon/config.h"
#include "daemon/http_server.h"

namespace trellis {

class Service;

class HttpApi {
 public:
  HttpApi(Service& service, const HttpApiConfig& config, std::string name);
  virtual ~HttpApi();
  // Refuses an address off loopback without credentials.
  Status start();
  void stop();
  uint16_t port() const;

 protected:
  virtual net::awaitable<void> handle(http::Request& req, http::Responder& r) = 0;

  Service& service_;
  const HttpApiConfig config_;

 private:
  std::string name_;
  std::unique_ptr<http::Server> server_;
};

// Server options (listen address, limits, TLS) from a config section.
Result<http::ServerOptions> server_options(const HttpApiConfig& config, const std::string& name);

// invalid_argument → 400, not_found → 404, unavailable → 503, else 500.
int http_status(const Status& st);

}  // namespace trellis
