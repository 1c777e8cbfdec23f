// PinningAgent: the parts of pinning that run on a timer in trellisd.
//
//   informers   every metrics_ttl / 2: publish ping, freespace (from IPFS
//               repo/stat), pinqueue and the configured tags on the metrics
//               topic, and feed the same to the local monitor
//   monitor     metrics from trusted peers (pubsub validator) → Monitor
//   maintenance every metrics_ttl / 2: scan the pinset; remove expired
//               pins and re-allocate pins whose peers have been down longer
//               than repin_after — for each CID only the responsible live
//               peer writes (pinning/repin.h), so no leader is needed;
//               skipped while the peer is still fetching the DAG (a sweep
//               of 1M pins costs seconds and would judge part of the
//               state), but never for longer than 4 × metrics_ttl
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "crdt/replica.h"
#include "net/node.h"
#include "pinning/monitor.h"
#include "pinning/tracker.h"

namespace trellis {

struct AgentOptions {
  std::chrono::milliseconds metrics_ttl{30'000};
  std::chrono::milliseconds repin_after{120'000};
  bool repin = true;  // re-allocate pins of peers that are gone
  // A read-only follower: publishes no metrics and writes nothing (no
  // re-pinning, no expiry); the trusted peers do that.
  bool follower = false;
  std::map<std::string, std::string> tags;
  pinning::AllocatorOptions allocator;
  // True while this peer is fetching blocks it is missing (a join, a
  // catch-up after a partition); maintenance waits meanwhile.
  std::function<bool()> catching_up;
};

class PinningAgent {
 public:
  PinningAgent(net::Node& node, Replica& replica, pinning::IpfsClient& ipfs,
               pinning::Tracker& tracker, const pinning::PinSource& pins, AgentOptions opts,
               std::function<void()> announce, LogFn log);
  ~PinningAgent();

  Status start();
  void stop();

  const pinning::Monitor& monitor() const { return monitor_; }
  // Live peers with metrics (this one included), for allocating a new pin.
  std::vector<pinning::PeerMetrics> candidates() const;
  const pinning::AllocatorOptions& allocator() const { return opts_.allocator; }
  // Runs one maintenance pass now; returns the number of pins written.
  Result<size_t> maintain();
  // An operator removed `peer` (DELETE /peers/{id}): forgets its metrics,
  // disconnects it, and re-allocates every pin allocated to it among the
  // remaining candidates (this peer writes them, whoever is responsible).
  // Returns the number of pins re-allocated.
  Result<size_t> remove_peer(const net::PeerId& peer);

 private:
  net::awaitable<void> inform_loop();
  net::awaitable<void> measure_loop();  // refreshes free_ every metrics_ttl / 2
  net::awaitable<std::optional<uint64_t>> free_space();  // from IPFS repo/stat
  net::awaitable<void> maintain_loop();
  bool gone(const std::string& peer) const;

  net::Node& node_;
  Replica& replica_;
  pinning::IpfsClient& ipfs_;
  pinning::Tracker& tracker_;
  const pinning::PinSource& pins_;
  AgentOptions opts_;
  std::function<void()> announce_;
  LogFn log_;
  std::string self_;
  pinning::Monitor monitor_;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point last_sweep_;
  net::asio::steady_timer inform_timer_, measure_timer_, maintain_timer_;
  std::optional<uint64_t> free_;  // IPFS's free space, last measured; none while unknown
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  bool stopped_ = false;
};

}  // namespace trellis
