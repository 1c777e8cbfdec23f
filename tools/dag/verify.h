// trellis-dag verify: the checks, each over the same read snapshot.
#pragma once

#include <cstdint>

#include "crdt/store.h"
#include "tools/dag/verify_report.h"

namespace trellis::dag {

// Check names, as printed in findings and the summary.
namespace checks {
inline constexpr const char* kHash = "hash";                 // bytes hash to the CID
inline constexpr const char* kDecode = "decode";             // bytes decode as a block
inline constexpr const char* kLinks = "links";               // links are stored
inline constexpr const char* kMergedLinks = "merged-links";  // links of merged blocks merged
inline constexpr const char* kReach = "reachability";        // merged reachable from heads
inline constexpr const char* kWalkState = "walk-state";      // merged/pending/ready/waiters/heads
inline constexpr const char* kState = "state";               // recomputed state equals stored
inline constexpr const char* kPriority = "priority";         // warnings only
}  // namespace checks

struct VerifyStats {
  uint64_t blocks = 0, merged = 0, pending = 0, ready = 0, staged = 0, heads = 0, wants = 0;
  uint64_t reachable = 0;                         // merged blocks reached from the heads
  uint64_t recomputed_keys = 0, stored_keys = 0;  // live keys
  uint64_t refed = 0;                             // merged blocks fed to the temporary replica
};

// (1) hash + decode, (2) links, (3) links of merged blocks, walk state,
// priorities: one pass over `blocks`.
Status check_blocks(const Txn& txn, const Dbs& dbs, VerifyReport& report, VerifyStats& stats);
// Every merged block stored; heads merged with matching heights.
Status check_merged_and_heads(const Txn& txn, const Dbs& dbs, VerifyReport& report,
                              VerifyStats& stats);
// (3) every merged block reachable from a head.
Status check_reachability(const Txn& txn, const Dbs& dbs, VerifyReport& report, VerifyStats& stats);
// (4) the state recomputed from the merged blocks equals the stored one.
Status check_recomputed(const Txn& txn, const Dbs& dbs, VerifyReport& report, VerifyStats& stats);

}  // namespace trellis::dag
