// The balanced allocator: which peers should hold a pin, as IPFS Cluster's
// "balanced" allocator decides it (allocator/balanced and allocate.go).
//
// Ordering. `allocate_by` names metrics, most significant first. Candidates
// are partitioned by the first metric, each partition again by the next, and
// so on; the result is a tree whose leaves are peers. Metrics:
//   "tag:NAME"   the peer's tag NAME. Peers with equal values share a
//                partition. A peer without the tag goes in the partition of
//                the empty value "" (IPFS Cluster would leave such a peer
//                out of allocation altogether; here it still gets pins).
//   "freespace"  bytes free; more is better. One partition per peer. A peer
//                reporting 0 is full and is not a candidate at all, neither
//                kept as a current allocation nor chosen (IPFS Cluster's
//                disk informer invalidates its metric then).
//   "pinqueue"   items waiting in the peer's pin queue; fewer is better,
//                counted in buckets of `pinqueue_bucket` so that small
//                differences do not override free space. One partition per
//                peer. Opt-in: not in the default list.
// Each partition has a weight (tags 0, freespace its bytes, pinqueue minus
// its bucket) and an aggregated weight (its own plus its sub-partitions'),
// and siblings are ordered by weight, then aggregated weight, both
// descending, then by value (tag value, or peer ID) ascending. With the
// default ["tag:group", "freespace"] the group with the most total free
// space comes first, and within a group the peer with the most free space.
//
// Picking. Peers are taken from the tree round-robin at every level: the
// first pick comes from the first group, the second from the second group,
// and so on, wrapping around and skipping exhausted partitions; inside a
// group its own sub-partitions rotate the same way. So replicas spread
// across groups before any group gets a second one.
//
// Rules, in order:
//   1. min = max = -1 means "everywhere": the result is empty, which is how
//      IPFS Cluster stores such pins. Otherwise 1 <= min <= max is required.
//   2. Live current allocations (those among the candidates) are kept. If
//      more than max are live, the first max (in `current` order) are kept.
//   3. If the live current allocations number at least min, nothing moves:
//      the result is `current` as given (deduplicated; dead entries beyond
//      max dropped), dead peers included, so a pin does not churn while it
//      still has its minimum, and a peer that comes back keeps its pins
//      (IPFS Cluster behaves the same). The caller sees "no change".
//   4. Otherwise new peers are added until there are max in total: first
//      the user allocations, in the order given, that are candidates; then
//      the balanced order above. Fewer than min in total is an error.
// The result never names a peer twice, and the same inputs give the same
// output (every tie is broken by peer ID).
//
// To move a pin onto new user allocations, pass an empty `current`.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "crdt/status.h"

namespace trellis::pinning {

// The latest fresh metrics of one live peer, gathered by the monitor.
struct PeerMetrics {
  std::string peer;                         // peer ID
  uint64_t freespace = 0;                   // bytes
  std::map<std::string, std::string> tags;  // "group" → "eu", …
  uint64_t pinqueue = 0;                    // queued pin operations
};

struct AllocationRequest {
  // Replication factors, already resolved from the config defaults (no 0s):
  // -1/-1 for everywhere, else 1 <= min <= max.
  int32_t min = 0;
  int32_t max = 0;
  std::vector<std::string> user_allocations;  // tried first, in this order
  std::vector<std::string> current;           // the pin's allocations now
};

struct AllocatorOptions {
  std::vector<std::string> allocate_by = {"tag:group", "freespace"};
  uint64_t pinqueue_bucket = 100000;  // IPFS Cluster's default; 0 acts as 1
};

// How many peer IDs an error message lists per category before "and N more".
inline constexpr size_t kMaxPeersInMessage = 10;

// `candidates`: the peers that may receive the pin: alive, with fresh
// metrics. A peer ID listed twice counts once (its first entry); an empty
// ID is ignored. Returns the chosen peer IDs, or:
//   invalid_argument  bad factors, or an empty or unknown `allocate_by`;
//   unavailable       "not enough peers to allocate: need MIN, have N (…)",
//                     naming the live allocations, the candidates, the
//                     peers left out and why, and missing user allocations.
Result<std::vector<std::string>> allocate(const AllocationRequest& request,
                                          std::span<const PeerMetrics> candidates,
                                          const AllocatorOptions& options = {});

}  // namespace trellis::pinning
