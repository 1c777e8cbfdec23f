#include "crdt/merger.h"

#include <algorithm>
#include <cstring>

namespace trellis {

Bytes element_key(std::string_view key, const Cid& id) {
  Bytes k;
  k.reserve(key.size() + 1 + id.bytes().size());
  k.insert(k.end(), key.begin(), key.end());
  k.push_back(0);
  k.insert(k.end(), id.bytes().begin(), id.bytes().end());
  return k;
}

bool split_element_key(ByteView k, std::string_view* key, ByteView* id) {
  auto chars = as_chars(k);
  size_t nul = chars.find('\0');
  if (nul == std::string_view::npos || nul == 0) return false;
  *key = chars.substr(0, nul);
  *id = k.subspan(nul + 1);
  return true;
}

bool beats(const Winner& a, const Winner& b) {
  if (a.priority != b.priority) return a.priority > b.priority;
  return std::lexicographical_compare(b.value.begin(), b.value.end(), a.value.begin(),
                                      a.value.end());
}

Winner element_of(ByteView elems_value) {
  return {get_u64be(elems_value), elems_value.subspan(8)};
}

Status for_each_element(const Txn& txn, const Dbs& dbs, std::string_view key,
                        const std::function<Status(ByteView, ByteView)>& fn) {
  Bytes prefix(key.begin(), key.end());
  prefix.push_back(0);
  Cursor c(txn, dbs.elems);
  for (bool ok = c.seek(prefix); ok; ok = c.next()) {
    ByteView k = c.key();
    if (k.size() < prefix.size() || !std::equal(prefix.begin(), prefix.end(), k.begin())) break;
    TRELLIS_TRY(fn(k.subspan(prefix.size()), c.value()));
  }
  return Status::ok();
}

std::optional<Winner> find_winner(const Txn& txn, const Dbs& dbs, std::string_view key) {
  std::optional<Winner> best;
  Status st = for_each_element(txn, dbs, key, [&](ByteView, ByteView v) {
    Winner w = element_of(v);
    if (!best || beats(w, *best)) best = w;
    return Status::ok();
  });
  (void)st;  // the callback never fails
  return best;
}

Status Merger::touch(std::string_view key) {
  if (!track_ || before_.count(key)) return Status::ok();
  auto w = find_winner(txn_, dbs_, key);
  before_.emplace(key,
                  w ? std::optional<Bytes>(Bytes(w->value.begin(), w->value.end())) : std::nullopt);
  return Status::ok();
}

uint8_t* Merger::allocate(size_t n) {
  // Chunks grow from 4 KiB to 1 MiB: a one-key commit stays small, a large
  // merge makes few allocations. A chunk never moves, so ops keep pointers.
  constexpr size_t kFirstChunk = size_t{4} << 10, kMaxChunk = size_t{1} << 20;
  if (chunks_.empty() || chunk_used_ + n > chunk_size_) {
    size_t next = chunks_.empty() ? kFirstChunk : std::min(kMaxChunk, chunk_size_ * 2);
    chunk_size_ = std::max(next, n);
    chunks_.emplace_back(new uint8_t[chunk_size_]);
    chunk_used_ = 0;
  }
  uint8_t* p = chunks_.back().get() + chunk_used_;
  chunk_used_ += n;
  queued_bytes_ += n;
  return p;
}

void Merger::queue(std::string_view key, const Cid& id, uint64_t priority, ByteView value,
                   bool tombstone, bool check) {
  const ByteView idb = id.bytes();
  const size_t key_len = key.size() + 1 + idb.size();
  const size_t value_len = tombstone ? 0 : 8 + value.size();
  uint8_t* p = allocate(key_len + value_len);
  std::memcpy(p, key.data(), key.size());
  p[key.size()] = 0;
  std::memcpy(p + key.size() + 1, idb.data(), idb.size());
  uint8_t* v = p + key_len;
  if (!tombstone) {
    for (int i = 0; i < 8; ++i) v[i] = static_cast<uint8_t>(priority >> (56 - 8 * i));
    if (!value.empty()) std::memcpy(v + 8, value.data(), value.size());
  }
  ops_.push_back({0, p, v, static_cast<uint32_t>(key_len), static_cast<uint32_t>(value_len),
                  tombstone, check});
}

void Merger::queue_range(const Cid& cid, const Block& block, std::string_view lo,
                         std::string_view hi) {
  auto in = [&](std::string_view key) { return key >= lo && (hi.empty() || key < hi); };
  const Delta& d = block.delta;
  for (const auto& t : d.tombstones)
    if (in(t.key)) queue(t.key, t.id, 0, {}, true, false);
  for (const auto& e : d.elements)
    if (in(e.key)) queue(e.key, cid, d.priority, e.value, false, true);
}

Status Merger::merge(const Cid& cid, const Block& block, bool local, bool applied) {
  const Delta& d = block.delta;
  if (!applied) {
    for (const auto& t : d.tombstones) queue(t.key, t.id, 0, {}, true, false);
    // A well-formed DAG tombstones an element only in blocks below its own,
    // so the check against `tombs` only matters for malformed ones; it
    // keeps replicas convergent even when a block tombstones an id it
    // cannot have seen. A block just made here cannot be named by any
    // tombstone yet.
    for (const auto& e : d.elements) queue(e.key, cid, d.priority, e.value, false, !local);
  }
  Bytes height;
  put_u64be(height, d.priority);
  TRELLIS_TRY(txn_.put(dbs_.merged, cid.view(), height));
  for (const auto& l : block.links) TRELLIS_TRY(txn_.del(dbs_.heads, l.view()));
  TRELLIS_TRY(txn_.put(dbs_.heads, cid.view(), height));
  // The same bytes may also be wanted or queued: a peer can announce a block
  // this replica then makes itself, byte for byte (same heads, same write).
  TRELLIS_TRY(txn_.del(dbs_.wants, cid.view()));
  TRELLIS_TRY(txn_.del(dbs_.ready, cid.view()));
  return release_waiters(cid);
}

Status Merger::flush() {
  if (ops_.empty()) return Status::ok();
  // Keys in a batch tend to share a long prefix ("/pins/bafy…"): compare 8
  // bytes from where they start to differ as one integer, and whole keys
  // only on a tie.
  size_t common = ops_.front().key_len;
  for (const auto& op : ops_) {
    size_t n = std::min<size_t>(common, op.key_len);
    common =
        static_cast<size_t>(std::mismatch(op.key, op.key + n, ops_.front().key).first - op.key);
  }
  for (auto& op : ops_) {
    op.order = 0;
    for (size_t i = 0; i < 8; ++i)
      op.order = op.order << 8 | (common + i < op.key_len ? op.key[common + i] : 0);
  }
  // Tombstones first, so that an element a queued tombstone names is not
  // added; then by element key.
  std::sort(ops_.begin(), ops_.end(), [](const Op& a, const Op& b) {
    if (a.tombstone != b.tombstone) return a.tombstone;
    if (a.order != b.order) return a.order < b.order;
    ByteView ka = a.key_view(), kb = b.key_view();
    return std::lexicographical_compare(ka.begin(), ka.end(), kb.begin(), kb.end());
  });
  if (track_) {
    for (const auto& op : ops_) {
      std::string_view key;
      ByteView id;
      split_element_key(op.key_view(), &key, &id);
      TRELLIS_TRY(touch(key));
    }
  }
  for (const auto& op : ops_) {
    if (op.tombstone) {
      TRELLIS_TRY(txn_.put(dbs_.tombs, op.key_view(), {}));
      TRELLIS_TRY(txn_.del(dbs_.elems, op.key_view()));
    } else if (!op.check || !txn_.has(dbs_.tombs, op.key_view())) {
      TRELLIS_TRY(txn_.put(dbs_.elems, op.key_view(), {op.value, op.value_len}));
    }
  }
  ops_.clear();
  chunks_.clear();
  chunk_used_ = chunk_size_ = queued_bytes_ = 0;
  return Status::ok();
}

Status Merger::release_waiters(const Cid& cid) {
  std::vector<Bytes> waiting;
  {
    Cursor c(txn_, dbs_.waiters);
    for (bool ok = c.seek(cid.view()); ok; ok = c.next_dup()) {
      if (!std::equal(c.key().begin(), c.key().end(), cid.bytes().begin(), cid.bytes().end()))
        break;
      waiting.emplace_back(c.value().begin(), c.value().end());
    }
  }
  if (waiting.empty()) return Status::ok();
  TRELLIS_TRY(txn_.del(dbs_.waiters, cid.view()));
  for (const auto& w : waiting) {
    auto count = txn_.get(dbs_.pending, w);
    if (!count) return corrupt("block waits on a link but has no pending count");
    uint64_t n = get_u64be(*count);
    if (n <= 1) {
      TRELLIS_TRY(txn_.del(dbs_.pending, w));
      ready_.push_back(w);
    } else {
      Bytes nv;
      put_u64be(nv, n - 1);
      TRELLIS_TRY(txn_.put(dbs_.pending, w, nv));
    }
  }
  return Status::ok();
}

Status Merger::persist_ready() {
  for (const auto& r : ready_) TRELLIS_TRY(txn_.put(dbs_.ready, r, {}));
  ready_.clear();
  return Status::ok();
}

std::vector<Change> Merger::changes() const {
  std::vector<Change> out;
  for (const auto& [key, old] : before_) {
    auto w = find_winner(txn_, dbs_, key);
    std::optional<Bytes> now;
    if (w) now = Bytes(w->value.begin(), w->value.end());
    if (now != old) out.push_back({key, std::move(now)});
  }
  return out;
}

}  // namespace trellis
