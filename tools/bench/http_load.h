// An HTTP/1.1 load client for the API benchmarks: `concurrency` keep-alive
// connections to one loopback port, each a coroutine on one io_context
// taking the next request as soon as its previous one is answered. Also a
// one-shot call for health checks and counts.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "crdt/status.h"

namespace trellis::bench {

struct LoadPlan {
  uint16_t port = 0;
  std::vector<std::string> targets;  // one POST per target, in this order
  std::vector<std::string> bodies;   // empty, or one per target
  std::string content_type;          // set when not empty
  size_t concurrency = 1;
  std::string expect;  // every 200 body must contain this
  std::chrono::seconds limit{600};
};

struct LoadResult {
  size_t ok = 0;
  size_t failed = 0;          // not 200, a bad body, or a connection error
  std::string first_error;    // what the first failure was
  double seconds = 0;         // first request sent to the last good answer
  size_t connections = 0;     // connections opened (concurrency when all kept alive)
  double cpu_seconds = 0;     // this process, while the load ran
  double p50_ms = 0, p99_ms = 0;  // request latency
  std::chrono::steady_clock::time_point first_sent{}, last_ok{};
};

// POSTs every target. Fails only when the load could not run (or did not
// finish within plan.limit); failed answers are counted in the result.
Result<LoadResult> run_load(const LoadPlan& plan);

struct HttpReply {
  int status = 0;
  std::string body;
};

// One request on a fresh connection to 127.0.0.1:port.
Result<HttpReply> http_call(uint16_t port, const std::string& method, const std::string& target,
                            const std::string& body = "",
                            std::chrono::milliseconds limit = std::chrono::milliseconds(10'000));

struct StreamedReply {
  int status = 0;
  uint64_t lines = 0;  // '\n' in the (de-chunked) body
  uint64_t bytes = 0;  // of body
  double seconds = 0;  // connect to the end of the body
  double cpu_seconds = 0;  // this process meanwhile
};

// GET target on a fresh connection, reading the body as it streams in
// without keeping it: counts its lines and bytes.
Result<StreamedReply> http_get_lines(uint16_t port, const std::string& target);

}  // namespace trellis::bench
