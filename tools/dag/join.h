// trellis-dag: two stores compared table by table, walking both sorted
// tables in step (a merge-join), so memory stays small however big they are.
#pragma once

#include <functional>

#include "crdt/store.h"
#include "tools/dag/live.h"

namespace trellis::dag {

enum class Side { a, b };

// Calls fn(side, key, value) for each key that only one of two tables holds,
// in key order. Stops at the first failed Status from fn.
Status for_each_unmatched(const Txn& ta, MDB_dbi a, const Txn& tb, MDB_dbi b,
                          const std::function<Status(Side, ByteView, ByteView)>& fn);

// What one live key looks like in two stores.
struct KeyDiff {
  std::string_view key;
  const LiveKeys* a = nullptr;  // positioned on the key; nullptr when A lacks it
  const LiveKeys* b = nullptr;
};

// Walks the live keys of two stores in step: calls fn for each key that
// only one has or whose values differ, and returns how many keys agree.
Result<uint64_t> for_each_key_diff(const Txn& ta, const Dbs& a, const Txn& tb, const Dbs& b,
                                   const std::function<Status(const KeyDiff&)>& fn);

}  // namespace trellis::dag
