// StreamIngest: receives a sub-DAG stream (newest first) into a Replica.
//
// The general path (Replica::on_blocks) records every fetched block's walk
// state — a want per unknown link, a waiter per link, a pending count — and
// merges in a cascade once the oldest blocks arrive. A stream of a whole DAG
// makes that bookkeeping most of the work. Here a block is accepted when its
// CID is one the stream was asked for or a link of an accepted block (kept
// in memory: a stream is bounded), stored, and marked `staged` (CID →
// priority) in the same transaction; merge_step() then merges the staged
// blocks oldest first (by priority), in bounded transactions. A staged block
// whose links are not all merged by then (a stream cut short, a priority
// that lies) falls back to the general path: pending count, waiters, wants.
//
// Crash safety: `staged` is persisted with the blocks; Replica::open()
// merges whatever a crash left staged before serving.
#pragma once

#include <array>
#include <cstring>
#include <span>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "crdt/replica.h"

namespace trellis {

// Links of accepted blocks not yet received: at most this many per stream
// (an honest DAG has a few per block; a stream is at most 200,000 blocks).
inline constexpr size_t kMaxExpected = size_t{1} << 20;

class StreamIngest {
 public:
  // `roots`: the CIDs the stream was asked for; `peer`: the peer streaming
  // (the hint recorded on wants made later).
  // `max_expected`: the bound on links expected but not received yet (add()
  // fails with too_large beyond it); smaller only in tests.
  StreamIngest(Replica& replica, std::span<const Cid> roots, std::string peer,
               size_t max_expected = kMaxExpected);
  // Blocks left staged by a crash (Replica::open).
  static Result<StreamIngest> resume(Replica& replica);

  // Checks, stores and stages a batch in one transaction. `stored` counts
  // the newly staged blocks; nothing merges yet.
  Result<SyncResult> add(std::span<const IncomingBlock> blocks);
  // Merges staged blocks oldest first in one bounded transaction (hooks
  // fire after it commits). Returns true once every staged block of this
  // stream is merged or handed to the general path.
  Result<bool> merge_step(SyncResult& out);
  size_t staged() const { return staged_.size(); }

 private:
  struct Staged {
    uint64_t priority;
    Cid cid;
  };
  // Blocks expected are named by their sha2-256 digest (every Trellis block
  // CID has one): no allocation per entry, unlike a Cid.
  using Digest = std::array<uint8_t, 32>;
  struct DigestHash {
    size_t operator()(const Digest& d) const {
      size_t h;
      std::memcpy(&h, d.data(), sizeof h);
      return h;
    }
  };
  using DigestSet = std::unordered_set<Digest, DigestHash>;
  static std::optional<Digest> digest_of(const Cid& cid);

  // A stream too large for one transaction is merged by key range: when
  // every staged block's links are merged or staged before it, the deltas
  // of all of them are applied one key range per transaction, so that each
  // writes a contiguous run of `elems` pages instead of pages all over the
  // B-tree; the blocks are then recorded as merged without applying their
  // deltas again (docs/crdt.md).
  struct RangePlan {
    bool made = false;
    std::vector<Cid> blocks;          // in merge order; empty: block by block
    std::vector<std::string> bounds;  // range i is [bounds[i-1], bounds[i])
    size_t next = 0;                  // ranges applied
  };
  Status make_plan();
  Status apply_range();

  Replica& replica_;
  RangePlan plan_;
  std::unordered_set<Cid, CidHash> applied_;  // blocks whose deltas the ranges applied
  std::string peer_;
  size_t max_expected_;
  DigestSet expected_;
  std::vector<Staged> staged_;
  size_t next_ = 0;
  bool sorted_ = false;
};

}  // namespace trellis
