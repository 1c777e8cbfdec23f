// The local control socket (a unix stream socket in the data folder): one
// request line in, one JSON line out. Only processes that can open the data
// folder can reach it, which is the access control. Lines over 1 MiB close
// the connection.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "crdt/status.h"
#include "net/asio.h"

namespace trellis {

class ControlServer {
 public:
  // Runs one request line to its reply line (on the io_context's thread).
  using Handler = std::function<net::awaitable<std::string>(std::string line)>;
  ControlServer(net::asio::io_context& io, std::string path, Handler handler);
  ~ControlServer();
  Status start();  // removes a stale socket file first
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Client side: sends one line, returns the reply line (blocking).
Result<std::string> control_request(const std::string& path, const std::string& line);

}  // namespace trellis
