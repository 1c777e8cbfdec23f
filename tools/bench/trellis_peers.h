// Real trellisd processes on loopback for the benchmarks, set up the way
// tests/cluster/harness.py does: `trellisd init` in a fresh folder per peer
// (peer 0 is everyone's bootstrap peer and gives the cluster secret),
// config.json edited, then `trellisd daemon` until it prints "ready". No
// Pinning Service API or metrics listener; the REST API only where asked.
//
// start() is the api-ingest setup: n equal peers, REST on peer 0, pinning
// on but pointed at a closed loopback port (no IPFS daemon answers), durable
// writes. add() and launch() build other shapes (trellis-bench follow: one
// writer, then followers started together).
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tools/bench/child.h"

namespace trellis::bench {

// The trellisd binary: `given` (--trellisd) if set, else the one built or
// installed next to trellis-bench.
Result<std::string> find_trellisd(const std::string& given);

// How add() initialises a peer.
struct PeerSetup {
  // --ipfs-api ("" turns pinning off); unset: a loopback port nobody
  // listens on (pinning on, every IPFS call fails).
  std::optional<std::string> ipfs_api;
  std::vector<std::string> init_args;  // more `trellisd init` arguments (--follower …)
  bool rest = false;                   // serve the REST API on rest_port() (one peer only)
  bool trust_only_self = false;        // cluster.trusted_peers = [this peer]
  // Merged into config.json last (a JSON merge patch: {"pinning": {"repin": false}}).
  nlohmann::json config = nlohmann::json::object();
};

class TrellisPeers {
 public:
  // n peers under root/peer0 … root/peer{n-1}; returns once all are ready
  // and every peer is connected to every other.
  static Result<std::unique_ptr<TrellisPeers>> start(const std::string& binary,
                                                     const std::string& root, size_t n);
  // No peers yet: add() and launch() them.
  static std::unique_ptr<TrellisPeers> empty(const std::string& binary, const std::string& root);
  ~TrellisPeers();  // stop()

  // Initialises `count` peers (not started) under root/peer<index>; each
  // but peer 0 bootstraps to peer 0. Returns the index of the first.
  Result<size_t> add(size_t count, const PeerSetup& setup);
  // Starts peers [first, first + count) at once, then waits until each
  // prints "ready".
  Status launch(size_t first, size_t count);
  // Stops peers [first, first + count): SIGTERM to all, then each is
  // waited for (SIGKILL after a grace period).
  void stop_peers(size_t first, size_t count);

  uint16_t rest_port() const { return rest_port_; }
  size_t size() const { return peers_.size(); }
  const std::string& dir(size_t i) const { return peers_[i].dir; }
  const std::string& id(size_t i) const { return peers_[i].id; }
  // The control socket's `info` reply of peer i (keys, state digest, heads…).
  Result<nlohmann::json> info(size_t i) const;
  double cpu_seconds(size_t i) const { return peers_[i].proc.cpu_seconds(); }
  double peak_rss_mb(size_t i) const { return peers_[i].proc.peak_rss_mb(); }
  // A "VmRSS"/"RssAnon"/… line of peer i's /proc/PID/status, in MB.
  double status_mb(size_t i, const char* field) const { return peers_[i].proc.status_mb(field); }
  std::string log_tail(size_t i) const;
  void stop();

 private:
  struct Peer {
    std::string dir;
    std::string id;
    std::string addr;  // /ip4/127.0.0.1/tcp/PORT/p2p/ID
    Child proc;
  };
  TrellisPeers() = default;
  Status init_peer(const std::string& dir, uint16_t port, const PeerSetup& setup);
  Status wait_mesh(std::chrono::seconds limit) const;

  std::string binary_, root_;
  std::string secret_;  // peer 0's
  std::vector<Peer> peers_;
  uint16_t rest_port_ = 0;
  std::set<uint16_t> given_ports_;
};

}  // namespace trellis::bench
