#include "crdt/replica.h"
#include "crdt/replica_info.h"

#include "crdt/merger.h"
#include "crdt/stream.h"

namespace trellis {

Status Batch::put(std::string_view key, ByteView value) {
  TRELLIS_TRY(check_key(key));
  if (value.size() > kMaxValueBytes)
    return too_large("value is " + std::to_string(value.size()) + " bytes, limit " +
                     std::to_string(kMaxValueBytes));
  ops_.insert_or_assign(std::string(key), Bytes(value.begin(), value.end()));
  return Status::ok();
}

Status Batch::remove(std::string_view key) {
  TRELLIS_TRY(check_key(key));
  ops_.insert_or_assign(std::string(key), std::nullopt);
  return Status::ok();
}

Result<std::unique_ptr<Replica>> Replica::open(const std::string& dir, const ReplicaOptions& opts) {
  StoreOptions so;
  so.read_only = opts.read_only;
  so.initial_map_size = opts.initial_map_size;
  so.sync = opts.sync;
  so.fail_write = opts.fail_write;
  auto store = Store::open(dir, so);
  if (!store) return store.status();
  std::unique_ptr<Replica> r(new Replica());
  r->store_ = std::move(*store);
  r->opts_ = opts;
  r->hook_ = opts.hook;
  // A crash may have left merge work staged or queued: finish it before
  // serving.
  if (!opts.read_only) {
    auto resumed = r->resume_merges();
    if (!resumed) return resumed.status();
  }
  return r;
}

Result<size_t> Replica::resume_merges() {
  const Dbs& d = store_->dbs();
  size_t staged = 0, ready = 0;
  TRELLIS_TRY(store_->read([&](const Txn& txn) {
    staged = txn.count(d.staged);
    ready = txn.count(d.ready);
    return Status::ok();
  }));
  SyncResult out;
  if (staged > 0) {
    auto ingest = StreamIngest::resume(*this);
    if (!ingest) return ingest.status();
    for (bool done = false; !done;) {
      auto step = ingest->merge_step(out);
      if (!step) return step.status();
      done = *step;
    }
  }
  if (staged > 0 || ready > 0) {
    auto drained = drain_ready();
    if (!drained) return drained.status();
    out.merged += *drained;
  }
  return out.merged;
}

Result<Cid> Replica::put(std::string_view key, ByteView value) {
  Batch b;
  TRELLIS_TRY(b.put(key, value));
  return commit(b);
}

Result<Cid> Replica::remove(std::string_view key) {
  Batch b;
  TRELLIS_TRY(b.remove(key));
  return commit(b);
}

namespace {

// Builds the chain of blocks for one batch inside a write transaction.
class BlockChain {
 public:
  BlockChain(Txn& txn, const Dbs& dbs, Merger& m) : txn_(txn), dbs_(dbs), merger_(m) {}

  Status start() {
    // Link every current head (up to kMaxLinks; the rest stay heads and are
    // linked by a later write).
    uint64_t height = 0;
    Cursor c(txn_, dbs_.heads);
    for (bool ok = c.first(); ok && block_.links.size() < kMaxLinks; ok = c.next()) {
      auto cid = Cid::from_bytes(c.key());
      if (!cid) return corrupt("heads holds a bad CID: " + cid.status().message());
      block_.links.push_back(std::move(*cid));
      height = std::max(height, get_u64be(c.value()));
    }
    block_.delta.priority = height + 1;
    return Status::ok();
  }

  Status add_element(Element e) {
    size_t w = element_wire_size(e);
    TRELLIS_TRY(make_room(w));
    block_.delta.elements.push_back(std::move(e));
    return Status::ok();
  }

  Status add_removal(const std::string& key) {
    std::vector<Tombstone> ts;
    TRELLIS_TRY(for_each_element(txn_, dbs_, key, [&](ByteView id_bytes, ByteView) {
      auto id = Cid::from_bytes(id_bytes);
      if (!id) return corrupt("elems holds a bad element id");
      ts.push_back({key, std::move(*id)});
      return Status::ok();
    }));
    for (auto& t : ts) {
      TRELLIS_TRY(make_room(tombstone_wire_size(t)));
      block_.delta.tombstones.push_back(std::move(t));
    }
    return Status::ok();
  }

  // Writes the last block; returns the CID of the chain's last block (empty
  // when the batch changed nothing).
  Result<Cid> finish() {
    TRELLIS_TRY(emit());
    return last_;
  }

 private:
  Status make_room(size_t w) {
    if (size_ + w > kTargetBlockBytes) TRELLIS_TRY(emit());
    size_ += w;
    return Status::ok();
  }

  Status emit() {
    if (block_.delta.elements.empty() && block_.delta.tombstones.empty()) return Status::ok();
    Bytes bytes = encode_block(block_);
    Cid cid = Cid::of_block(bytes);
    TRELLIS_TRY(txn_.put(dbs_.blocks, cid.view(), bytes));
    TRELLIS_TRY(merger_.merge(cid, block_, /*local=*/true));
    uint64_t next = block_.delta.priority + 1;
    block_ = Block{};
    block_.links.push_back(cid);
    block_.delta.priority = next;
    last_ = std::move(cid);
    size_ = 0;
    return Status::ok();
  }

  Txn& txn_;
  const Dbs& dbs_;
  Merger& merger_;
  Block block_;
  size_t size_ = 0;
  Cid last_;
};

}  // namespace

Result<Cid> Replica::commit(const Batch& batch) {
  if (opts_.follower)
    return Status(Code::denied, "follower mode: this peer replicates the pinset read-only; "
                                "write through one of the cluster's trusted peers");
  if (batch.empty()) return invalid("batch is empty");
  Cid last;
  std::vector<Change> changes;
  bool released = false;
  Status st = store_->write([&](Txn& txn) {
    Merger m(txn, store_->dbs(), hook_ != nullptr);
    BlockChain chain(txn, store_->dbs(), m);
    TRELLIS_TRY(chain.start());
    for (const auto& [key, op] : batch.ops_) {
      if (op) {
        TRELLIS_TRY(chain.add_element({key, *op}));
      } else {
        TRELLIS_TRY(chain.add_removal(key));
      }
    }
    auto cid = chain.finish();
    if (!cid) return cid.status();
    last = std::move(*cid);
    TRELLIS_TRY(m.flush());
    changes = m.changes();
    // Only when a peer's pending block waited on a block we just made.
    released = !m.ready().empty();
    return m.persist_ready();
  });
  if (!st) return st;
  for (const auto& c : changes) hook_(c);
  if (released) {
    auto drained = drain_ready();
    if (!drained) return drained.status();
  }
  return last;
}

Result<std::optional<Bytes>> Replica::get(std::string_view key) const {
  TRELLIS_TRY(check_key(key));
  std::optional<Bytes> out;
  TRELLIS_TRY(store_->read([&](const Txn& txn) {
    auto w = find_winner(txn, store_->dbs(), key);
    if (w) out = Bytes(w->value.begin(), w->value.end());
    return Status::ok();
  }));
  return out;
}

Status Replica::scan(std::string_view prefix,
                     const std::function<bool(std::string_view, ByteView)>& fn,
                     std::string_view start) const {
  if (prefix.find('\0') != std::string_view::npos) return invalid("prefix contains a NUL byte");
  if (start.find('\0') != std::string_view::npos) return invalid("start contains a NUL byte");
  if (start < prefix) start = prefix;
  return store_->read([&](const Txn& txn) {
    Cursor c(txn, store_->dbs().elems);
    std::string_view cur_key;
    Winner best;
    bool have = false;
    for (bool ok = c.seek(as_bytes(start)); ok; ok = c.next()) {
      std::string_view key;
      ByteView id;
      if (!split_element_key(c.key(), &key, &id)) return corrupt("elems holds a malformed key");
      if (key.substr(0, prefix.size()) != prefix) break;
      Winner w = element_of(c.value());
      if (have && key == cur_key) {
        if (beats(w, best)) best = w;
        continue;
      }
      if (have && !fn(cur_key, best.value)) return Status::ok();
      cur_key = key;
      best = w;
      have = true;
    }
    if (have) fn(cur_key, best.value);
    return Status::ok();
  });
}

Result<std::vector<Cid>> Replica::heads() const {
  std::vector<Cid> out;
  TRELLIS_TRY(store_->read([&](const Txn& txn) {
    Cursor c(txn, store_->dbs().heads);
    for (bool ok = c.first(); ok; ok = c.next()) {
      auto cid = Cid::from_bytes(c.key());
      if (!cid) return corrupt("heads holds a bad CID");
      out.push_back(std::move(*cid));
    }
    return Status::ok();
  }));
  return out;
}

std::vector<Cid> Replica::tick(std::chrono::steady_clock::time_point now) {
  if (opts_.follower) return {};
  if (last_broadcast_ && now - *last_broadcast_ < opts_.rebroadcast_interval) return {};
  last_broadcast_ = now;
  auto h = heads();
  return h ? std::move(*h) : std::vector<Cid>{};
}

Result<ReplicaInfo> read_info(const Txn& txn, const Dbs& d) {
  ReplicaInfo info;
  Cursor c(txn, d.heads);
  for (bool ok = c.first(); ok; ok = c.next()) {
    auto cid = Cid::from_bytes(c.key());
    if (!cid) return corrupt("heads holds a bad CID");
    uint64_t h = get_u64be(c.value());
    info.heads.emplace_back(std::move(*cid), h);
    info.max_height = std::max(info.max_height, h);
  }
  info.blocks = txn.count(d.blocks);
  info.merged = txn.count(d.merged);
  info.pending = txn.count(d.pending);
  info.wants = txn.count(d.wants);
  info.ready = txn.count(d.ready);
  info.staged = txn.count(d.staged);
  info.elements = txn.count(d.elems);
  info.tombstones = txn.count(d.tombs);
  return info;
}

Result<ReplicaInfo> Replica::info() const {
  Result<ReplicaInfo> info = ReplicaInfo{};
  TRELLIS_TRY(store_->read([&](const Txn& txn) {
    info = read_info(txn, store_->dbs());
    return info.status();
  }));
  return info;
}

}  // namespace trellis
