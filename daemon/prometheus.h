// Prometheus metrics of a peer in the text exposition format, served at
// GET /metrics on its own listener (default 127.0.0.1:8888, the port IPFS
// Cluster uses): pins by status, IPFS operations, the queue, the CRDT DAG,
// block exchange, sync progress, peers, HTTP requests and the process.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "daemon/http_server.h"

namespace trellis {

class Service;

class MetricsServer {
 public:
  MetricsServer(Service& service, std::string listen);
  ~MetricsServer();
  Status start();
  void stop();
  uint16_t port() const;

 private:
  net::awaitable<void> handle(http::Request& req, http::Responder& r);
  net::awaitable<std::string> exposition();

  Service& service_;
  std::string listen_;
  std::unique_ptr<http::Server> server_;
  // Pins by status: walking a large pinset costs time, so the counts are
  // recomputed at most every kCountsMaxAge.
  std::map<std::string, uint64_t> counts_;
  std::chrono::steady_clock::time_point counted_at_{};
};

}  // namespace trellis
