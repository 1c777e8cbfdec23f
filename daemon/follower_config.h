// The follower configuration of a cluster: what `trellisd follower-config`
// prints for an operator to publish and what `trellis-follow NAME init`
// reads (like the service.json an IPFS Cluster publishes for
// ipfs-cluster-follow).
//
//   {"cluster_name": "…", "secret": "<64 hex>",
//    "trusted_peers": ["12D3KooW…", …],
//    "bootstrap": ["/ip4/A.B.C.D/tcp/PORT/p2p/12D3KooW…", …]}
//
// A follower accepts heads only from the trusted peers, so the list must be
// explicit: "*" has no meaning here.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "crdt/status.h"
#include "net/identity.h"
#include "net/multiaddr.h"

namespace trellis {

inline constexpr size_t kMaxFollowerConfigBytes = 1 << 20;

struct FollowerConfig {
  std::string cluster_name;
  net::ClusterSecret secret;
  std::vector<net::PeerId> trusted_peers;   // 1 to 4096
  std::vector<net::Multiaddr> bootstrap;    // 1 to 64, each with /p2p/

  std::string to_json() const;  // pretty, ends with a newline
  // Strict and bounded; errors name the field and say what is wrong.
  static Result<FollowerConfig> parse(std::string_view text);
};

// The follower configuration of the peer in `dir` (a trellisd data folder).
// Trusted peers: cluster.trusted_peers, or, when that is "*", this peer and
// every peer in its peer store (`note` then says so). Bootstrap addresses:
// `addresses` when given (a missing /p2p/ gets this peer's ID), else this
// peer's listen addresses with 0.0.0.0 read as 127.0.0.1 (`note` says so).
Result<FollowerConfig> follower_config_of(const std::string& dir,
                                          const std::vector<net::Multiaddr>& addresses,
                                          std::string* note);

}  // namespace trellis
