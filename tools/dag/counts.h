// trellis-dag: the table counts of a store snapshot, shared by info and stats.
#pragma once

#include <cstdint>

#include "crdt/replica_info.h"

namespace trellis::dag {

// The replica's own counts (heads, tables: crdt/replica_info.h) and the
// distinct live keys.
struct StoreCounts : ReplicaInfo {
  uint64_t keys = 0;
};

// The table counts (entries LMDB keeps count of) and the live keys (one
// pass over `elems`).
Result<StoreCounts> count_store(const Txn& txn, const Dbs& dbs);

}  // namespace trellis::dag
