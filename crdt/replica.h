// Replica: the Merkle-CRDT key-value state of one peer (sans-I/O).
//
// Local writes become blocks that link all current heads; the block, its
// merge and the new heads commit in one LMDB transaction before the call
// returns its CID for the caller to broadcast. Remote state arrives through
// a state machine: on_heads() names the blocks to fetch, on_blocks() stores
// them, merges every block whose links are all merged (causal order) and
// names further blocks to fetch. All walk state lives in LMDB, so a crash at
// any point loses nothing: reopen, ask wants(), and carry on.
//
// Threading: one thread at a time per Replica. Other processes may open the
// same directory read-only (Replica::open with read_only) while it runs.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "crdt/block.h"
#include "crdt/cid.h"
#include "crdt/store.h"

namespace trellis {

// A change of a key's winning value, reported once per change after commit.
struct Change {
  std::string key;
  std::optional<Bytes> value;  // nullopt: the key disappeared
};
using Hook = std::function<void(const Change&)>;

struct ReplicaOptions {
  bool read_only = false;
  // A follower's replica (read-only followers of a collaborative cluster):
  // it merges what it receives, but commit() fails with `denied` and tick()
  // hands back nothing, so it never makes or announces a block.
  bool follower = false;
  size_t initial_map_size = size_t{256} << 20;
  bool sync = true;                  // see StoreOptions::sync
  std::function<bool()> fail_write;  // see StoreOptions::fail_write
  // How often tick() hands back the heads to rebroadcast.
  std::chrono::milliseconds rebroadcast_interval{10'000};
  // Blocks merged per transaction while draining a cascade (more bounds,
  // 1,048,576 elements + tombstones and 256 MiB of them, apply too); bounds
  // the memory and hook events of one transaction. Larger budgets write
  // each B-tree page fewer times.
  size_t merge_budget = 65536;
  // Called after each commit, once per key whose winning value changed —
  // including merges that open() finishes after a crash, which is why it is
  // an option and not only set_hook().
  Hook hook;
};

// Writes collected in memory and committed as one block (or a chain of
// blocks in one transaction when large). Invisible until committed. The last
// write to a key in a batch wins.
class Batch {
 public:
  Status put(std::string_view key, ByteView value);
  Status remove(std::string_view key);
  size_t size() const { return ops_.size(); }
  bool empty() const { return ops_.empty(); }

 private:
  friend class Replica;
  std::map<std::string, std::optional<Bytes>, std::less<>> ops_;  // nullopt = remove
};

// A block the replica wants, and the peer that announced it (a hint for
// where to fetch it; empty when unknown).
struct Want {
  Cid cid;
  std::string peer;
  friend bool operator==(const Want&, const Want&) = default;
};

struct IncomingBlock {
  Cid cid;
  Bytes bytes;
};

enum class Accept {
  wanted,  // only blocks named by a want (network input)
  any,     // any block that hashes to its CID (local import of a CAR file)
};

struct SyncResult {
  std::vector<Want> wants;            // newly wanted blocks, to fetch
  size_t stored = 0;                  // new blocks stored
  size_t merged = 0;                  // blocks merged into the state by this call
  size_t duplicates = 0;              // blocks already stored
  std::vector<std::string> rejected;  // one reason per refused block
};

struct ReplicaInfo {
  std::vector<std::pair<Cid, uint64_t>> heads;  // with heights
  uint64_t max_height = 0;
  size_t blocks = 0, merged = 0, pending = 0, wants = 0, ready = 0, staged = 0;
  size_t elements = 0, tombstones = 0;
};

class Replica {
 public:
  static Result<std::unique_ptr<Replica>> open(const std::string& dir, const ReplicaOptions& opts);

  // Replaces the hook given in ReplicaOptions.
  void set_hook(Hook hook) { hook_ = std::move(hook); }

  // ---- local writes (each one durable before it returns) ----
  // The CID of the new block; an empty CID when nothing changed (removing an
  // absent key).
  Result<Cid> put(std::string_view key, ByteView value);
  Result<Cid> remove(std::string_view key);
  Result<Cid> commit(const Batch& batch);  // last block of the chain

  // ---- reads ----
  Result<std::optional<Bytes>> get(std::string_view key) const;
  // Calls fn(key, value) for each live key starting with prefix, in key
  // order, until fn returns false; from `start` on when it is given (a key
  // with that prefix), so long listings can be read in pages.
  Status scan(std::string_view prefix,
              const std::function<bool(std::string_view, ByteView)>& fn,
              std::string_view start = {}) const;

  // ---- remote sync ----
  // Heads announced by `peer`: returns the ones not stored yet, to fetch.
  Result<std::vector<Want>> on_heads(std::string_view peer, std::span<const Cid> heads);
  // Heads from several announcements at once (one transaction), each with
  // the peer that announced it.
  Result<std::vector<Want>> on_heads(std::span<const Want> heads);
  // Fetched blocks. Each is hashed and checked against its CID, decoded,
  // stored and merged as soon as its links are; one transaction per call
  // (plus one per merge_budget blocks of cascade).
  Result<SyncResult> on_blocks(std::span<const IncomingBlock> blocks,
                               Accept accept = Accept::wanted);
  Result<SyncResult> on_block(const Cid& cid, ByteView bytes);
  // Finishes merge work an earlier failure left behind (a stream's staged
  // blocks, the `ready` queue), as open() does after a crash: a write that
  // failed (a full disk) would otherwise leave those blocks, and every block
  // above them, unmerged until the next restart. Not while a StreamIngest is
  // open. Returns the blocks merged; one read transaction when there is
  // nothing to do.
  Result<size_t> resume_merges();
  // Outstanding wants (e.g. after a restart), at most `limit`.
  Result<std::vector<Want>> wants(size_t limit) const;

  // ---- heads ----
  Result<std::vector<Cid>> heads() const;
  // The heads to rebroadcast when the interval has passed since the last
  // time (empty otherwise, or when there are no heads).
  std::vector<Cid> tick(std::chrono::steady_clock::time_point now);

  Result<ReplicaInfo> info() const;
  Store& store() { return *store_; }
  const Store& store() const { return *store_; }

 private:
  friend class StreamIngest;
  Replica() = default;
  Result<size_t> drain_ready();  // merges everything in `ready`

  std::unique_ptr<Store> store_;
  ReplicaOptions opts_;
  Hook hook_;
  std::optional<std::chrono::steady_clock::time_point> last_broadcast_;
};

// Key layout helpers shared with tools: elems/tombs keys are key ‖ 0 ‖ id.
Bytes element_key(std::string_view key, const Cid& id);
// Splits an elems/tombs key; false if it is malformed.
bool split_element_key(ByteView k, std::string_view* key, ByteView* id);

}  // namespace trellis
