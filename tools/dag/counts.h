// trellis-dag: the table counts of a store snapshot, shared by info and stats.
#pragma once

#include <cstdint>

#include "crdt/store.h"

namespace trellis::dag {

struct StoreCounts {
  uint64_t heads = 0, max_height = 0;
  uint64_t blocks = 0, merged = 0, pending = 0, ready = 0, staged = 0, wants = 0;
  uint64_t elements = 0, tombstones = 0;  // live elements; tombstoned elements
  uint64_t keys = 0;                      // distinct live keys
};

// Counts the tables (entries LMDB keeps count of) and the live keys (one
// pass over `elems`).
Result<StoreCounts> count_store(const Txn& txn, const Dbs& dbs);

}  // namespace trellis::dag
