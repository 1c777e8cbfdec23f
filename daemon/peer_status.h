// Peer RPC behind the HTTP APIs' cluster-wide views (IPFS Cluster gets the
// same from its RPC API):
//   trellis/id          → this peer's identity document (api.ID)
//   trellis/pin-status  {"cids":[…]} (≤ 1,000) → this peer's status of each
// Both are `trusted` methods, served whether or not the peer runs an API.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "crdt/cid.h"
#include "net/asio.h"

namespace trellis {

class Service;

inline constexpr size_t kMaxStatusBatch = 1000;

void register_peer_methods(Service& s);

// This peer's api.ID: peer ID, addresses, cluster peers, version, IPFS.
net::awaitable<nlohmann::json> local_id(Service& s);

// The api.ID of every cluster peer this one is connected to, this one
// first; a peer that does not answer has its "error" set.
net::awaitable<std::vector<nlohmann::json>> cluster_ids(Service& s);

// One peer's status of a list of CIDs (PinInfoShort objects, in order).
struct PeerStatuses {
  std::string peer;
  nlohmann::json infos;  // array, same length as the CIDs asked for
};
// The status of `cids` on every connected peer but this one; peers that
// fail report cluster_error with the reason.
net::awaitable<std::vector<PeerStatuses>> remote_statuses(Service& s, std::vector<Cid> cids);

// A PinInfoShort (IPFS Cluster's per-peer status object).
nlohmann::json pin_info_short(const std::string& peername, const std::string& status,
                              const std::string& error, uint32_t attempts);

}  // namespace trellis
