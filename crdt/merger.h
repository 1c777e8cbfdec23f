// Merger: applies blocks to the state inside one write transaction.
// Private to crdt/ (used by replica.cc and replica_sync.cc).
//
// merge() requires every link of the block to be merged already (causal
// order). It applies the delta, records the block as merged, moves the heads
// and releases blocks that were waiting on it into `ready`. When tracking is
// on, it remembers each touched key's winning value before the first change
// so that changes() can report exactly the keys whose winner changed.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "crdt/block.h"
#include "crdt/replica.h"
#include "crdt/store.h"

namespace trellis {

// The live element of a key with the highest (priority, value).
struct Winner {
  uint64_t priority = 0;
  ByteView value;
};
// The merge rule: the higher priority wins, a tie goes to the greater bytes.
bool beats(const Winner& a, const Winner& b);
// An elems value (priority ‖ value) as a Winner viewing it.
Winner element_of(ByteView elems_value);
std::optional<Winner> find_winner(const Txn& txn, const Dbs& dbs, std::string_view key);
// Calls fn(id, elems value) for each live element of `key`, in id order.
Status for_each_element(const Txn& txn, const Dbs& dbs, std::string_view key,
                        const std::function<Status(ByteView, ByteView)>& fn);

class Merger {
 public:
  Merger(Txn& txn, const Dbs& dbs, bool track_changes)
      : txn_(txn), dbs_(dbs), track_(track_changes) {}

  // `local`: the block was just made here, so no tombstone can name its
  // elements yet and the tombstone check is skipped.
  Status merge(const Cid& cid, const Block& block, bool local = false);
  // The changes so far, comparing each touched key's winner now with before.
  std::vector<Change> changes() const;
  // Blocks that became ready in this transaction (all links merged). Kept in
  // memory; whatever is left at the end of the transaction must be written
  // to the `ready` db before commit.
  std::vector<Bytes>& ready() { return ready_; }
  // Writes the in-memory ready blocks to the `ready` db.
  Status persist_ready();

 private:
  Status touch(const std::string& key);
  Status release_waiters(const Cid& cid);

  Txn& txn_;
  const Dbs& dbs_;
  bool track_;
  std::map<std::string, std::optional<Bytes>> before_;
  std::vector<Bytes> ready_;
};

}  // namespace trellis
