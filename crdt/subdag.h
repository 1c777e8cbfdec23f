// Sub-DAG negotiation and walking for block exchange (sans-I/O).
//
// A peer that lacks part of the DAG asks a peer that has it for "every block
// reachable from these roots that is not below these haves of mine". The
// answering side walks both sets together in decreasing height (priority):
// blocks reached from a have are painted "have" and so are their links; a
// block reached only from the roots is sent. Links always have smaller
// heights than the blocks that name them, so when a block is popped every
// block above it has been seen and its paint is final; the walk stops as
// soon as nothing unpainted is queued. It therefore touches the part of the
// DAG the requester lacks plus the strip of history just below the haves,
// never the requester's whole history (the idea behind git's have/want
// negotiation, with heights instead of commit dates).
//
// Blocks come out newest first, each after every queued block that links to
// it, which is the order in which a replica's walk (Replica::on_blocks with
// Accept::wanted) accepts them: a block is wanted because a block sent
// before it named it.
//
// Haves the answering side does not hold paint nothing. sample_haves()
// therefore offers heads plus ancestors at exponentially growing depths, so
// two stores that forked long ago still find common ground quickly.
#pragma once

#include <map>
#include <queue>
#include <span>
#include <unordered_set>
#include <vector>

#include "crdt/cid.h"
#include "crdt/replica.h"
#include "crdt/store.h"

namespace trellis {

class SubdagWalk {
 public:
  // At most max_blocks blocks are sent (the requester asks again for the
  // rest): this bounds the walk's memory, about 100 bytes per block seen.
  SubdagWalk(std::span<const Cid> roots, std::span<const Cid> haves, size_t max_blocks);

  // Appends the next blocks to `out` until about max_bytes or max_count are
  // added (at least one block when any is left). Each call is one read
  // transaction. Returns false once the walk is complete (or max_blocks
  // were sent).
  Result<bool> next(const Store& store, std::vector<IncomingBlock>& out, size_t max_bytes,
                    size_t max_count);

  size_t sent() const { return sent_; }
  size_t seen() const { return seen_.size(); }

 private:
  struct Entry {
    uint64_t height;
    Cid cid;
    bool operator<(const Entry& o) const {
      return height != o.height ? height < o.height : cid < o.cid;
    }
  };
  Status push(const Txn& txn, const Dbs& d, const Cid& cid, bool have);

  std::vector<Cid> roots_, haves_;
  bool started_ = false;
  size_t max_blocks_;
  size_t sent_ = 0;
  size_t unpainted_ = 0;  // queued entries reached only from the roots
  std::priority_queue<Entry> queue_;
  std::map<Cid, bool> queued_;  // cid → painted "have"
  std::unordered_set<Cid, CidHash> seen_;
};

// Up to `max` haves for a request: the heads, then ancestors reached by
// following each head's first links at depths 1, 2, 4, 8, … (≤ max_depth).
Result<std::vector<Cid>> sample_haves(const Store& store, size_t max, size_t max_depth = 1024);

}  // namespace trellis
