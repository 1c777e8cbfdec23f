// One HTTP API of a Service on its own listener (the REST API, the Pinning
// Service API): the server, its options from the config section, and the
// mapping of errors to HTTP statuses.
#pragma once

#include <map>
#include <memory>
#include <set>
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
  const std::string& name() const { return name_; }
  // Requests served by route ("GET /pins/{id}") and status; at most
  // kMaxRouteLabels routes, the rest count as "other".
  using RequestCounts = std::map<std::pair<std::string, int>, uint64_t>;
  const RequestCounts& requests() const { return requests_; }
  static constexpr size_t kMaxRouteLabels = 64;

 protected:
  virtual net::awaitable<void> handle(http::Request& req, http::Responder& r) = 0;

  Service& service_;
  const HttpApiConfig config_;

 private:
  net::awaitable<void> serve(http::Request& req, http::Responder& r);

  std::string name_;
  std::unique_ptr<http::Server> server_;
  RequestCounts requests_;
  std::set<std::string> routes_;
};

// Server options (listen address, limits, TLS) from a config section.
Result<http::ServerOptions> server_options(const HttpApiConfig& config, const std::string& name);

// invalid_argument → 400, not_found → 404, unavailable → 503, else 500.
int http_status(const Status& st);

}  // namespace trellis
