// Metrics and the peer monitor (sans-I/O).
//
// Every peer's informers publish a few metrics on the pubsub metrics topic,
// each with a TTL, and republish them at half the TTL:
//   freespace   bytes IPFS can still store (repo/stat StorageMax - RepoSize)
//   tag:NAME    a value from the peer's config (e.g. tag:group = eu)
//   pinqueue    operations waiting in the peer's tracker
//   ping        empty; its arrivals feed the failure detector
// The monitor keeps the last kWindow values of each metric per peer and a
// phi-accrual detector over ping arrivals. A peer is alive while phi stays
// below the threshold (8: with pings every 5 s a silent peer is suspected
// after about 11 s; see pinning/phi.h); a peer never heard from is not
// alive. Allocation uses only alive peers with an unexpired freespace.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "crdt/bytes.h"
#include "crdt/status.h"
#include "pinning/allocator.h"
#include "pinning/phi.h"

namespace trellis::pinning {

inline constexpr std::string_view kMetricsTopic = "trellis/metrics/v1";
inline constexpr size_t kMaxMetrics = 64;         // per message
inline constexpr size_t kMaxMetricName = 128;
inline constexpr size_t kMaxMetricValue = 256;
inline constexpr size_t kWindow = 10;             // values kept per peer and metric
inline constexpr size_t kMaxMonitoredPeers = 4096;

struct Metric {
  std::string name;
  std::string value;
  uint64_t ttl_ms = 0;
  friend bool operator==(const Metric&, const Metric&) = default;
};

Bytes encode_metrics(std::span<const Metric> metrics);
// Bounded: at most kMaxMetrics, names and values within their limits, a
// TTL of at most a day.
Result<std::vector<Metric>> decode_metrics(ByteView bytes);

struct MonitorOptions {
  double phi_threshold = kDefaultPhiThreshold;
  PhiOptions phi;  // set phi.first_interval to the ping interval
};

// A metric as received.
struct Reading {
  std::string value;
  std::chrono::steady_clock::time_point received, expires;
  std::chrono::system_clock::time_point received_wall;
};

class Monitor {
 public:
  using Clock = std::chrono::steady_clock;
  explicit Monitor(MonitorOptions opts = {}) : opts_(opts) {}

  // Metrics published by `peer` (a signed pubsub origin), received at `now`.
  void on_metrics(const std::string& peer, std::span<const Metric> metrics, Clock::time_point now);

  bool alive(const std::string& peer, Clock::time_point now) const;
  double phi(const std::string& peer, Clock::time_point now) const;
  // How long a peer that is not alive has been silent (since its last
  // ping); nullopt when it is alive or was never heard from.
  std::optional<Clock::duration> down_for(const std::string& peer, Clock::time_point now) const;
  // Alive peers with an unexpired freespace, for the allocator.
  std::vector<PeerMetrics> candidates(Clock::time_point now) const;
  std::vector<std::string> peers() const;  // every peer heard from
  std::vector<std::string> names() const;  // every metric name heard, sorted
  bool known(const std::string& peer) const { return peers_.count(peer) > 0; }
  // Drops everything heard from `peer` (until it publishes again).
  void forget(const std::string& peer) { peers_.erase(peer); }
  // The window of values of one metric (oldest first); empty when unknown.
  std::vector<Reading> history(const std::string& peer, const std::string& name) const;
  // The latest unexpired reading of every metric called `name`, by peer.
  std::map<std::string, Reading> latest(const std::string& name, Clock::time_point now) const;

 private:
  struct PeerState {
    std::map<std::string, std::deque<Reading>> metrics;
    PhiDetector detector;
    Clock::time_point last_ping{};
    Clock::time_point last_heard{};
  };
  MonitorOptions opts_;
  std::map<std::string, PeerState> peers_;
};

}  // namespace trellis::pinning
