#include "crdt/subdag.h"

#include "crdt/block.h"

namespace trellis {

namespace {

// A stored block's height: from `merged` when merged, else from the block.
std::optional<uint64_t> height_of(const Txn& txn, const Dbs& d, const Cid& cid) {
  if (auto h = txn.get(d.merged, cid.view())) return get_u64be(*h);
  auto bytes = txn.get(d.blocks, cid.view());
  if (!bytes) return std::nullopt;
  auto block = decode_block(*bytes);
  if (!block) return std::nullopt;
  return block->delta.priority;
}

}  // namespace

SubdagWalk::SubdagWalk(std::span<const Cid> roots, std::span<const Cid> haves, size_t max_blocks)
    : roots_(roots.begin(), roots.end()), haves_(haves.begin(), haves.end()),
      max_blocks_(max_blocks) {}

Status SubdagWalk::push(const Txn& txn, const Dbs& d, const Cid& cid, bool have) {
  if (auto q = queued_.find(cid); q != queued_.end()) {
    if (have && !q->second) {
      q->second = true;
      --unpainted_;
    }
    return Status::ok();
  }
  if (seen_.count(cid)) return Status::ok();
  auto height = height_of(txn, d, cid);
  if (!height) return Status::ok();  // not held here: nothing to send or paint
  queue_.push({*height, cid});
  queued_[cid] = have;
  if (!have) ++unpainted_;
  return Status::ok();
}

Result<bool> SubdagWalk::next(const Store& store, std::vector<IncomingBlock>& out,
                              size_t max_bytes, size_t max_count) {
  bool more = false;
  TRELLIS_TRY(store.read([&](const Txn& txn) -> Status {
    const Dbs& d = store.dbs();
    if (!started_) {
      started_ = true;
      for (const auto& h : haves_) TRELLIS_TRY(push(txn, d, h, true));
      for (const auto& r : roots_) TRELLIS_TRY(push(txn, d, r, false));
    }
    size_t added = 0, count = 0;
    while (unpainted_ > 0 && sent_ < max_blocks_ && added < max_bytes && count < max_count) {
      Entry e = queue_.top();
      queue_.pop();
      bool have = queued_.at(e.cid);
      queued_.erase(e.cid);
      if (!have) --unpainted_;
      seen_.insert(e.cid);
      auto bytes = txn.get(d.blocks, e.cid.view());
      if (!bytes) continue;
      auto block = decode_block(*bytes);
      if (!block) continue;  // stored blocks decode; skip rather than fail
      for (const auto& l : block->links) TRELLIS_TRY(push(txn, d, l, have));
      if (have) continue;
      out.push_back({e.cid, Bytes(bytes->begin(), bytes->end())});
      added += bytes->size();
      ++count;
      ++sent_;
    }
    more = unpainted_ > 0 && sent_ < max_blocks_;
    return Status::ok();
  }));
  return more;
}

Result<std::vector<Cid>> sample_haves(const Store& store, size_t max, size_t max_depth) {
  std::vector<Cid> out;
  TRELLIS_TRY(store.read([&](const Txn& txn) -> Status {
    const Dbs& d = store.dbs();
    std::vector<Cid> heads;
    Cursor cur(txn, d.heads);
    for (bool ok = cur.first(); ok && heads.size() < max; ok = cur.next()) {
      auto cid = Cid::from_bytes(cur.key());
      if (cid) heads.push_back(*cid);
    }
    out = heads;
    // Follow each head's first links, keeping depths 1, 2, 4, 8, …
    for (const auto& head : heads) {
      Cid at = head;
      size_t next_keep = 1;
      for (size_t depth = 1; depth <= max_depth && out.size() < max; ++depth) {
        auto bytes = txn.get(d.blocks, at.view());
        if (!bytes) break;
        auto block = decode_block(*bytes);
        if (!block || block->links.empty()) break;
        at = block->links.front();
        if (depth == next_keep) {
          out.push_back(at);
          next_keep *= 2;
        }
      }
    }
    return Status::ok();
  }));
  return out;
}

}  // namespace trellis
