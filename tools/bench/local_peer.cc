#include "tools/bench/local_peer.h"

namespace trellis::bench {

Result<std::unique_ptr<LocalPeer>> LocalPeer::open(const std::string& dir,
                                                   const net::ClusterSecret& secret,
                                                   std::vector<net::Multiaddr> bootstrap,
                                                   ReplicaOptions ro, ReplicatorOptions rep) {
  std::unique_ptr<LocalPeer> p(new LocalPeer());
  auto replica = Replica::open(dir, ro);
  if (!replica) return replica.status();
  p->replica_ = std::move(*replica);
  net::NodeOptions no;
  no.listen.push_back(*net::Multiaddr::parse("/ip4/127.0.0.1/tcp/0"));
  no.bootstrap = std::move(bootstrap);
  no.peerstore.backoff_base = std::chrono::milliseconds(100);
  no.dial_interval = std::chrono::milliseconds(50);
  p->node_ = std::make_unique<net::Node>(p->io_, net::Identity::generate(), secret, no);
  p->replicator_ = std::make_unique<Replicator>(*p->node_, *p->replica_, rep);
  TRELLIS_TRY(p->node_->start());
  TRELLIS_TRY(p->replicator_->start());
  p->thread_ = std::thread([io = &p->io_] { io->run(); });
  return p;
}

LocalPeer::~LocalPeer() {
  if (thread_.joinable()) {
    run([this] {
      replicator_->stop();
      node_->stop();
      return 0;
    });
    work_.reset();
    thread_.join();  // returns once every loop and connection has ended
  }
}

net::Multiaddr LocalPeer::addr() {
  return run([this] { return node_->listen_addrs().front(); });
}

size_t LocalPeer::peers() {
  return run([this] { return node_->connected().size(); });
}

}  // namespace trellis::bench
