// Merger: applies blocks to the state inside one write transaction.
// Private to crdt/ (used by replica.cc and replica_sync.cc).
//
// merge() requires every link of the block to be merged already (causal
// order). It records the block as merged, moves the heads and releases
// blocks that were waiting on it into `ready` at once, and queues the
// block's delta; flush() applies the queued deltas of all blocks merged so
// far sorted by element key. Applying a set of deltas in any order gives the
// same state (an element is live iff it was added and its id is not in
// `tombs`, and `tombs` only grows), and sorted puts walk the B-tree in order
// instead of jumping between random pages: about twice as fast for large
// merges. When tracking is on, flush() remembers each touched key's winning
// value before changing it so that changes() can report exactly the keys
// whose winner changed.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
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

// Elements + tombstones, and bytes of them, merged per transaction at most
// (beyond one block): bound the memory of a transaction and of the hook
// events it collects. Most of that memory is LMDB's dirty pages, which it
// keeps (and caches after the commit) in the heap: up to one 4 KiB page per
// entry once the store holds more keys than a transaction adds, since keys
// such as pin CIDs land all over the B-tree — at most about 64 MiB here.
// Larger transactions write each B-tree page fewer times (see
// docs/BENCHMARKS.md), but at 1,048,576 entries and 256 MiB a peer joining
// a 1,000,000-pin DAG merged it all in one transaction and held 427 MiB of
// heap (tests/resources).
inline constexpr size_t kMaxEntriesPerTxn = size_t{1} << 14;
inline constexpr size_t kMaxQueuedBytes = size_t{16} << 20;

class Merger {
 public:
  Merger(Txn& txn, const Dbs& dbs, bool track_changes)
      : txn_(txn), dbs_(dbs), track_(track_changes) {}

  // `local`: the block was just made here, so no tombstone can name its
  // elements yet and the tombstone check is skipped. `applied`: its delta
  // was applied already (queue_range), so only the block is recorded.
  Status merge(const Cid& cid, const Block& block, bool local = false, bool applied = false);
  // Queues the elements and tombstones of `block` whose keys sort in
  // [lo, hi) (an empty hi: no end), without recording the block.
  void queue_range(const Cid& cid, const Block& block, std::string_view lo, std::string_view hi);
  // Elements + tombstones queued by merge() and not yet applied.
  size_t queued() const { return ops_.size(); }
  // True once the queued entries or their bytes reached a per-transaction cap.
  bool full() const { return queued() >= kMaxEntriesPerTxn || queued_bytes_ >= kMaxQueuedBytes; }
  // Applies the queued deltas; call before changes() and before commit.
  Status flush();
  // The changes so far, comparing each touched key's winner now with before.
  std::vector<Change> changes() const;
  // Blocks that became ready in this transaction (all links merged). Kept in
  // memory; whatever is left at the end of the transaction must be written
  // to the `ready` db before commit.
  std::vector<Bytes>& ready() { return ready_; }
  // Writes the in-memory ready blocks to the `ready` db.
  Status persist_ready();

 private:
  // A queued put of an element or a tombstone: its element key and elems
  // value, in arena chunks that do not move.
  struct Op {
    uint64_t order;  // 8 key bytes from the batch's common prefix on, for sorting
    const uint8_t* key;
    const uint8_t* value;
    uint32_t key_len, value_len;
    bool tombstone;
    bool check;  // an element that must not be added if its id is in tombs
    ByteView key_view() const { return {key, key_len}; }
  };
  void queue(std::string_view key, const Cid& id, uint64_t priority, ByteView value, bool tombstone,
             bool check);
  uint8_t* allocate(size_t n);
  Status touch(std::string_view key);
  Status release_waiters(const Cid& cid);

  Txn& txn_;
  const Dbs& dbs_;
  bool track_;
  std::map<std::string, std::optional<Bytes>, std::less<>> before_;
  std::vector<Bytes> ready_;
  std::vector<std::unique_ptr<uint8_t[]>> chunks_;
  size_t chunk_used_ = 0, chunk_size_ = 0, queued_bytes_ = 0;
  std::vector<Op> ops_;
};

// ---- shared by the sync paths (replica_sync.cc, stream.cc) ----

Status check_block_cid(const Cid& cid);
// The first checks of a fetched block, shared by on_blocks and StreamIngest:
// refused (bad CID kind, too large, bytes that do not hash to the CID; the
// reason goes to res.rejected), already stored (its want is dropped and it
// counts as a duplicate), or new.
enum class Intake { refused, duplicate, fresh };
Result<Intake> take_in(Txn& txn, const Dbs& dbs, const IncomingBlock& in, SyncResult& res);

// Records that `block` waits on each of its links not merged yet (a waiter
// each, a want with `peer` as hint for those neither stored nor wanted,
// appended to `wants`, and a pending count). True when every link is merged
// already: the block is ready and nothing was written.
Result<bool> wait_on_links(Txn& txn, const Dbs& dbs, const Cid& cid, const Block& block,
                           const std::string& peer, std::vector<Want>& wants);

using BlockCache = std::unordered_map<Cid, Block, CidHash>;
struct Drained {
  size_t merged = 0;
  bool more = false;  // ready blocks remain for another transaction
};
// Merges ready blocks (Merger::ready(), then the `ready` db) until none is
// left, `block_budget` blocks are merged or the Merger is full();
// applies the queued deltas and writes what is still ready to the db.
Result<Drained> drain(Txn& txn, const Dbs& dbs, Merger& m, BlockCache& cache, size_t block_budget);

}  // namespace trellis
