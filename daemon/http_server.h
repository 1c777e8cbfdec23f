// A small HTTP/1.1 server (Beast, kept out of this header) for the REST and
// Pinning Service APIs: keep-alive, optional TLS, bounded headers, bodies,
// connections and time, and newline-delimited JSON streams with an error
// trailer.
//
// Limits, as an operator of a public endpoint needs them:
//  - headers over max_header_bytes get 431, bodies over max_body_bytes 413;
//  - a request's headers must arrive within read_header_timeout, so a
//    client trickling bytes cannot hold a connection; a kept-alive
//    connection may wait idle_timeout for its next request;
//  - past max_connections a new connection gets 503 and is closed at once.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "crdt/log.h"
#include "crdt/status.h"
#include "net/asio.h"

namespace trellis::http {

struct Request {
  std::string method;  // "GET", "POST", …
  std::string path;    // percent-decoded, without the query
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
  std::string authorization;  // the Authorization header, if any
  std::string content_type;
  std::string body;
  std::string remote;  // the client's address

  // The first value of a query parameter.
  const std::string* param(std::string_view name) const;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

// The reply side of one request: either reply() once, or item() any number
// of times and then end().
class Responder {
 public:
  virtual ~Responder() = default;
  virtual net::awaitable<void> reply(int status, std::string body, std::string content_type,
                                     Headers headers) = 0;
  // One line (or several joined by newlines) of a newline-delimited JSON
  // stream; the final newline is added here. The 200 header (with
  // X-Chunked-Output: 1 and a Trailer: X-Stream-Error declaration) goes out
  // with the first item; lines are sent in chunks of up to 64 KiB. Returns
  // false once the client has gone.
  virtual net::awaitable<bool> item(std::string line) = 0;
  // Ends a stream. With no items: 204, or `error_status` with the error as
  // JSON. After items: the error, if any, goes into the X-Stream-Error
  // trailer.
  virtual net::awaitable<void> end(std::string error, int error_status) = 0;

  // Shorthands. (No default arguments on purpose: g++ 12 mishandles
  // temporaries created inside co_await expressions.)
  net::awaitable<void> json(int status, std::string body);
  net::awaitable<void> error(int status, std::string message);
  net::awaitable<void> end_ok();

  // The status sent (0 before anything was), for request metrics.
  int sent_status() const { return sent_status_; }

 protected:
  int sent_status_ = 0;
};

// `{"code":N,"message":M}`, the error body of IPFS Cluster's API.
std::string error_json(int code, const std::string& message);

using Handler = std::function<net::awaitable<void>(Request&, Responder&)>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0 = any free port
  std::string cert_file, key_file;  // both set: TLS
  size_t max_connections = 512;
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 1 << 20;
  std::chrono::milliseconds read_header_timeout{5'000};
  std::chrono::milliseconds read_timeout{30'000};
  std::chrono::milliseconds write_timeout{60'000};
  std::chrono::milliseconds idle_timeout{60'000};
  std::string name = "http";  // in log lines
  LogFn log;
};

struct ServerCounters {
  uint64_t connections = 0, rejected_connections = 0, requests = 0;
  uint64_t header_timeouts = 0, too_large = 0, accept_errors = 0;
};

class Server {
 public:
  Server(net::asio::io_context& io, ServerOptions opts, Handler handler);
  ~Server();
  Status start();  // binds; a port in use fails with a clear message
  // Stops accepting and closes every connection; handlers still running see
  // their writes fail.
  void stop();
  uint16_t port() const;
  size_t active_connections() const;
  const ServerCounters& counters() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace trellis::http
