// A Trellis peer inside the benchmark process: a replica, a network node and
// a replicator on an io_context of their own thread, talking to other peers
// over real loopback sockets. run() executes a function on that thread.
#pragma once

#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "crdt/replica.h"
#include "daemon/replicator.h"
#include "net/node.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

namespace trellis::bench {

class LocalPeer {
 public:
  static Result<std::unique_ptr<LocalPeer>> open(const std::string& dir,
                                                 const net::ClusterSecret& secret,
                                                 std::vector<net::Multiaddr> bootstrap,
                                                 ReplicaOptions ro, ReplicatorOptions rep);
  ~LocalPeer();  // stops the node, lets its loops end and joins the thread

  template <class F>
  auto run(F fn) -> decltype(fn()) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto done = task.get_future();
    net::asio::post(io_, [&task] { task(); });
    return done.get();
  }

  Replica& replica() { return *replica_; }
  Replicator& replicator() { return *replicator_; }
  net::Node& node() { return *node_; }
  net::Multiaddr addr();  // the listen address, with /p2p/
  size_t peers();         // connected peers

 private:
  LocalPeer() = default;
  net::asio::io_context io_;
  net::asio::executor_work_guard<net::asio::io_context::executor_type> work_{io_.get_executor()};
  std::unique_ptr<Replica> replica_;
  std::unique_ptr<net::Node> node_;
  std::unique_ptr<Replicator> replicator_;
  std::thread thread_;
};

}  // namespace trellis::bench
