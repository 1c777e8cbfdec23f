// A running Trellis peer: the replica, the network node, the replicator and
// the control socket, wired together on one io_context.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "crdt/replica.h"
#include "daemon/config.h"
#include "daemon/control.h"
#include "daemon/replicator.h"
#include "net/node.h"

namespace trellis {

class Service {
 public:
  using Log = std::function<void(const std::string&)>;
  static Result<std::unique_ptr<Service>> open(net::asio::io_context& io, const std::string& dir,
                                               Log log);
  Status start();
  void stop();
  // Executes one control line; returns one JSON line.
  std::string command(const std::string& line);
  net::Node& node() { return *node_; }

 private:
  Service() = default;
  std::string info();
  std::string write(const std::string& line);

  std::string dir_;
  Log log_;
  DaemonConfig config_;
  std::unique_ptr<Replica> replica_;
  std::unique_ptr<net::Node> node_;
  std::unique_ptr<Replicator> replicator_;
  std::unique_ptr<ControlServer> control_;
};

}  // namespace trellis
