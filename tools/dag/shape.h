// trellis-dag: the shape of the merged DAG, height by height, for stats.
//
// Blocks at the same height never link to each other (a link always goes to
// a lower height), so the number of blocks at one height — its width — is
// how many writes were concurrent there: 1 on a single writer's chain, more
// where replicas wrote while apart. A merge is a block that links 2 or more
// blocks: where concurrent branches joined again.
#pragma once

#include <cstdint>
#include <vector>

#include "crdt/store.h"

namespace trellis::dag {

// Heights from..to (inclusive) of the merged DAG.
struct HeightBucket {
  uint64_t from = 0, to = 0;
  uint64_t blocks = 0;     // merged blocks at these heights
  uint64_t max_width = 0;  // most blocks at one of these heights
  uint64_t merges = 0;     // blocks linking 2 or more blocks
};

struct DagShape {
  std::vector<HeightBucket> buckets;  // equal ranges of heights 1..depth
  uint64_t max_width = 0, max_width_height = 0;
  uint64_t concurrent_heights = 0;  // heights with more than one block
  uint64_t merges = 0;
};

// Walks the merged blocks lowest height first (order.h: a scratch index on
// disk, so memory stays small) into at most `max_buckets` buckets over
// heights 1..depth.
Result<DagShape> dag_shape(const Txn& txn, const Dbs& dbs, uint64_t depth, uint64_t max_buckets);

}  // namespace trellis::dag
