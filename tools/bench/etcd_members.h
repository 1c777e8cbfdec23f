// A 3-member etcd cluster on loopback for the API benchmarks (the Debian
// package etcd-server, 3.4): fresh data folders, distinct client and peer
// ports, --initial-cluster-state new, default settings otherwise (every
// write fsynced to the WAL). Talks to it through the gRPC gateway's JSON
// endpoints (/v3/...).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tools/bench/child.h"

namespace trellis::bench {

// The etcd binary on PATH; an error telling how to install it otherwise.
Result<std::string> find_etcd();

// Standard base64 with padding (what the gateway expects for bytes).
std::string base64(std::string_view data);

class EtcdMembers {
 public:
  // n members under root/m0 …; returns once every member is healthy and
  // they agree on a leader. `token` makes the cluster distinct.
  static Result<std::unique_ptr<EtcdMembers>> start(const std::string& binary,
                                                    const std::string& root, size_t n,
                                                    const std::string& token);
  ~EtcdMembers();  // stop()

  size_t size() const { return members_.size(); }
  size_t leader() const { return leader_; }
  uint16_t client_port(size_t i) const { return members_[i].client_port; }
  // Keys under `prefix` as member i sees them (serializable: its own copy).
  Result<size_t> count(size_t i, const std::string& prefix) const;
  double cpu_seconds(size_t i) const { return members_[i].proc.cpu_seconds(); }
  double peak_rss_mb(size_t i) const { return members_[i].proc.peak_rss_mb(); }
  const std::string& version() const { return version_; }
  std::string log_tail(size_t i) const;
  void stop();

 private:
  struct Member {
    std::string dir;
    uint16_t client_port = 0;
    uint16_t peer_port = 0;
    Child proc;
  };
  EtcdMembers() = default;
  Status wait_healthy(std::chrono::seconds limit);

  std::vector<Member> members_;
  size_t leader_ = 0;
  std::string version_;
};

}  // namespace trellis::bench
