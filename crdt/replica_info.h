// The counts behind Replica::info(), read in a caller's transaction (used
// by trellis-dag, which opens the store without a Replica).
#pragma once

#include "crdt/replica.h"

namespace trellis {

// Heads with their heights, and the entries of every table.
Result<ReplicaInfo> read_info(const Txn& txn, const Dbs& dbs);

}  // namespace trellis
