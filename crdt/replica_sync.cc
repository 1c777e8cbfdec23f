// Remote sync: heads in, wants out, blocks in, merged in causal order.
#include "crdt/merger.h"
#include "crdt/replica.h"

namespace trellis {

Status check_block_cid(const Cid& cid) {
  if (cid.version() != 1 || cid.codec() != kCodecMessagePack || cid.hash().code != kHashSha256)
    return invalid(cid.to_string() + " is not a Trellis block CID (CIDv1, messagepack, sha2-256)");
  return Status::ok();
}

Result<Intake> take_in(Txn& txn, const Dbs& dbs, const IncomingBlock& in, SyncResult& res) {
  std::string why;
  if (Status st = check_block_cid(in.cid); !st)
    why = st.message();
  else if (in.bytes.size() > kMaxBlockBytes)
    why = "block is larger than " + std::to_string(kMaxBlockBytes) + " bytes";
  else if (Cid::of_block(in.bytes) != in.cid)
    why = "bytes do not hash to the CID";
  if (!why.empty()) {
    res.rejected.push_back(in.cid.to_string() + ": " + why);
    return Intake::refused;
  }
  if (txn.has(dbs.blocks, in.cid.view())) {
    TRELLIS_TRY(txn.del(dbs.wants, in.cid.view()));
    ++res.duplicates;
    return Intake::duplicate;
  }
  return Intake::fresh;
}

Result<bool> wait_on_links(Txn& txn, const Dbs& dbs, const Cid& cid, const Block& block,
                           const std::string& peer, std::vector<Want>& wants) {
  uint64_t missing = 0;
  for (const auto& l : block.links) {
    if (txn.has(dbs.merged, l.view())) continue;
    ++missing;
    TRELLIS_TRY(txn.put(dbs.waiters, l.view(), cid.view()));
    if (!txn.has(dbs.blocks, l.view()) && !txn.has(dbs.wants, l.view())) {
      TRELLIS_TRY(txn.put(dbs.wants, l.view(), as_bytes(peer)));
      wants.push_back({l, peer});
    }
  }
  if (missing == 0) return true;
  Bytes count;
  put_u64be(count, missing);
  TRELLIS_TRY(txn.put(dbs.pending, cid.view(), count));
  return false;
}

// Merges ready blocks — first those made ready in this transaction, then
// those queued in the `ready` db by an earlier one — until none is left or a
// budget is spent; then queues what is left in the db.
Result<Drained> drain(Txn& txn, const Dbs& dbs, Merger& m, BlockCache& cache, size_t block_budget) {
  Drained out;
  auto& queue = m.ready();
  for (;;) {
    Bytes next;
    bool from_db = queue.empty();
    if (from_db) {
      Cursor c(txn, dbs.ready);
      if (!c.first()) break;
      next.assign(c.key().begin(), c.key().end());
    } else {
      next = queue.back();
    }
    if (out.merged >= block_budget || m.full()) {
      out.more = true;
      break;
    }
    if (from_db) {
      TRELLIS_TRY(txn.del(dbs.ready, next));
    } else {
      queue.pop_back();
    }
    auto cid = Cid::from_bytes(next);
    if (!cid) return corrupt("ready queue holds a bad CID");
    auto it = cache.find(*cid);
    if (it == cache.end()) {
      auto bytes = txn.get(dbs.blocks, cid->view());
      if (!bytes) return corrupt("ready block " + cid->to_string() + " is not stored");
      auto block = decode_block(*bytes);
      if (!block)
        return corrupt("stored block " + cid->to_string() + ": " + block.status().message());
      it = cache.emplace(*cid, std::move(*block)).first;
    }
    TRELLIS_TRY(m.merge(*cid, it->second));
    cache.erase(it);
    ++out.merged;
  }
  TRELLIS_TRY(m.flush());
  TRELLIS_TRY(m.persist_ready());
  return out;
}

Result<std::vector<Want>> Replica::on_heads(std::string_view peer, std::span<const Cid> heads) {
  if (heads.size() > kMaxLinks)
    return too_large("announcement has " + std::to_string(heads.size()) + " heads, limit " +
                     std::to_string(kMaxLinks));
  std::vector<Want> announced;
  announced.reserve(heads.size());
  for (const auto& h : heads) announced.push_back({h, std::string(peer)});
  return on_heads(announced);
}

Result<std::vector<Want>> Replica::on_heads(std::span<const Want> heads) {
  for (const auto& h : heads) TRELLIS_TRY(check_block_cid(h.cid));
  // Heads we already store are the common case (rebroadcasts): look first
  // with a read transaction and write only when something is new.
  std::vector<Want> out;
  bool fresh = false;
  TRELLIS_TRY(store_->read([&](const Txn& txn) {
    for (const auto& h : heads) {
      if (txn.has(store_->dbs().blocks, h.cid.view())) continue;
      fresh = fresh || !txn.has(store_->dbs().wants, h.cid.view());
      out.push_back(h);
    }
    return Status::ok();
  }));
  if (!fresh) return out;
  TRELLIS_TRY(store_->write([&](Txn& txn) {
    for (const auto& w : out)
      if (!txn.has(store_->dbs().wants, w.cid.view()))
        TRELLIS_TRY(txn.put(store_->dbs().wants, w.cid.view(), as_bytes(w.peer)));
    return Status::ok();
  }));
  return out;
}

Result<SyncResult> Replica::on_block(const Cid& cid, ByteView bytes) {
  IncomingBlock b{cid, Bytes(bytes.begin(), bytes.end())};
  return on_blocks(std::span<const IncomingBlock>(&b, 1));
}

Result<SyncResult> Replica::on_blocks(std::span<const IncomingBlock> blocks, Accept accept) {
  SyncResult res;
  std::vector<Change> changes;
  bool more = false;
  const Dbs& d = store_->dbs();
  TRELLIS_TRY(store_->write([&](Txn& txn) {
    res = SyncResult{};
    BlockCache cache;
    Merger m(txn, d, hook_ != nullptr);
    for (const auto& in : blocks) {
      auto intake = take_in(txn, d, in, res);
      if (!intake) return intake.status();
      if (*intake != Intake::fresh) continue;
      auto reject = [&](const std::string& why) {
        res.rejected.push_back(in.cid.to_string() + ": " + why);
      };
      auto want = txn.get(d.wants, in.cid.view());
      std::string peer = want ? std::string(as_chars(*want)) : std::string();
      if (accept == Accept::wanted && !want) {
        reject("block was not asked for");
        continue;
      }
      auto block = decode_block(in.bytes);
      if (!block) {
        // The CID names these bytes forever: stop asking for it.
        TRELLIS_TRY(txn.del(d.wants, in.cid.view()));
        reject(block.status().message());
        continue;
      }
      TRELLIS_TRY(txn.put(d.blocks, in.cid.view(), in.bytes));
      TRELLIS_TRY(txn.del(d.wants, in.cid.view()));
      auto ready = wait_on_links(txn, d, in.cid, *block, peer, res.wants);
      if (!ready) return ready.status();
      if (*ready) m.ready().push_back(in.cid.bytes());
      // Kept decoded: it may become ready within this call.
      cache.emplace(in.cid, std::move(*block));
      ++res.stored;
    }
    // A want met later in the same call is not a want any more.
    std::erase_if(res.wants, [&](const Want& w) { return txn.has(d.blocks, w.cid.view()); });
    auto drained = drain(txn, d, m, cache, opts_.merge_budget);
    if (!drained) return drained.status();
    res.merged = drained->merged;
    more = drained->more;
    changes = m.changes();
    return Status::ok();
  }));
  for (const auto& c : changes) hook_(c);
  // A long cascade continues in further bounded transactions.
  if (more) {
    auto rest = drain_ready();
    if (!rest) return rest.status();
    res.merged += *rest;
  }
  return res;
}

Result<size_t> Replica::drain_ready() {
  const Dbs& d = store_->dbs();
  size_t total = 0;
  size_t queued = 0;
  TRELLIS_TRY(store_->read([&](const Txn& txn) {
    queued = txn.count(d.ready);
    return Status::ok();
  }));
  for (bool more = queued > 0; more;) {
    std::vector<Change> changes;
    size_t merged = 0;
    TRELLIS_TRY(store_->write([&](Txn& txn) {
      BlockCache cache;
      Merger m(txn, d, hook_ != nullptr);
      auto drained = drain(txn, d, m, cache, opts_.merge_budget);
      if (!drained) return drained.status();
      merged = drained->merged;
      more = drained->more;
      changes = m.changes();
      return Status::ok();
    }));
    total += merged;
    for (const auto& c : changes) hook_(c);
  }
  return total;
}

Result<std::vector<Want>> Replica::wants(size_t limit) const {
  std::vector<Want> out;
  TRELLIS_TRY(store_->read([&](const Txn& txn) {
    Cursor c(txn, store_->dbs().wants);
    for (bool ok = c.first(); ok && out.size() < limit; ok = c.next()) {
      auto cid = Cid::from_bytes(c.key());
      if (!cid) return corrupt("wants holds a bad CID");
      out.push_back({std::move(*cid), std::string(as_chars(c.value()))});
    }
    return Status::ok();
  }));
  return out;
}

}  // namespace trellis
