#include "crdt/merger.h"

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

Status Merger::touch(const std::string& key) {
  if (!track_ || before_.count(key)) return Status::ok();
  auto w = find_winner(txn_, dbs_, key);
  before_.emplace(key, w ? std::optional<Bytes>(Bytes(w->value.begin(), w->value.end()))
                         : std::nullopt);
  return Status::ok();
}

Status Merger::merge(const Cid& cid, const Block& block, bool local) {
  const Delta& d = block.delta;
  for (const auto& t : d.tombstones) {
    TRELLIS_TRY(touch(t.key));
    Bytes k = element_key(t.key, t.id);
    TRELLIS_TRY(txn_.put(dbs_.tombs, k, {}));
    TRELLIS_TRY(txn_.del(dbs_.elems, k));
  }
  Bytes v;
  for (const auto& e : d.elements) {
    TRELLIS_TRY(touch(e.key));
    Bytes k = element_key(e.key, cid);
    // A well-formed DAG tombstones an element only in blocks below its own,
    // which causal merging applies later; the check keeps replicas
    // convergent even when a block tombstones an id it cannot have seen.
    if (!local && txn_.has(dbs_.tombs, k)) continue;
    v.clear();
    put_u64be(v, d.priority);
    v.insert(v.end(), e.value.begin(), e.value.end());
    TRELLIS_TRY(txn_.put(dbs_.elems, k, v));
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
