// Real trellisd processes on loopback for the API benchmarks, set up the way
// tests/cluster/harness.py does: `trellisd init` in a fresh folder per peer
// (peer 0 is everyone's bootstrap peer), config.json edited, then `trellisd
// daemon` until it prints "ready". Only peer 0 serves the REST API; no
// Pinning Service API or metrics listener; the IPFS API address is a closed
// loopback port (pinning is on, but no IPFS daemon answers). Durable writes
// (cluster.sync_writes) as configured by default.
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tools/bench/child.h"

namespace trellis::bench {

class TrellisPeers {
 public:
  // n peers under root/peer0 … root/peer{n-1}; returns once all are ready
  // and every peer is connected to every other.
  static Result<std::unique_ptr<TrellisPeers>> start(const std::string& binary,
                                                     const std::string& root, size_t n);
  ~TrellisPeers();  // stop()

  uint16_t rest_port() const { return rest_port_; }  // peer 0's REST API
  size_t size() const { return peers_.size(); }
  // The control socket's `info` reply of peer i (keys, state digest, heads…).
  Result<nlohmann::json> info(size_t i) const;
  double cpu_seconds(size_t i) const { return peers_[i].proc.cpu_seconds(); }
  double peak_rss_mb(size_t i) const { return peers_[i].proc.peak_rss_mb(); }
  std::string log_tail(size_t i) const;
  void stop();

 private:
  struct Peer {
    std::string dir;
    std::string addr;  // /ip4/127.0.0.1/tcp/PORT/p2p/ID
    Child proc;
  };
  TrellisPeers() = default;
  Status init_peer(const std::string& binary, const std::string& dir, uint16_t port,
                   uint16_t ipfs_port, std::string* secret);
  Status wait_mesh(std::chrono::seconds limit) const;

  std::vector<Peer> peers_;
  uint16_t rest_port_ = 0;
};

}  // namespace trellis::bench
