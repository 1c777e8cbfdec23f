// trellis-dag: merged blocks in causal order (lowest height first), for
// export and for recomputing the state, without holding them in memory.
#pragma once

#include <functional>
#include <optional>

#include "crdt/cid.h"
#include "crdt/store.h"

namespace trellis::dag {

// Calls fn(cid, bytes) for every merged block, by increasing height (CID
// order within a height); bytes is nullopt when the block is not stored.
// The height index lives in a scratch LMDB database. Stops at the first
// failed Status from fn.
Status for_each_merged_by_height(
    const Txn& txn, const Dbs& dbs,
    const std::function<Status(const Cid&, std::optional<ByteView>)>& fn);

}  // namespace trellis::dag
