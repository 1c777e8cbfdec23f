#include "crdt/stream.h"

#include <algorithm>

#include "crdt/merger.h"

namespace trellis {

StreamIngest::StreamIngest(Replica& replica, std::span<const Cid> roots, std::string peer,
                           size_t max_expected)
    : replica_(replica), peer_(std::move(peer)), max_expected_(max_expected) {
  for (const auto& r : roots)
    if (auto d = digest_of(r)) expected_.insert(*d);
}

std::optional<StreamIngest::Digest> StreamIngest::digest_of(const Cid& cid) {
  if (!check_block_cid(cid)) return std::nullopt;
  Digest d;
  std::memcpy(d.data(), cid.hash().digest.data(), d.size());
  return d;
}

Result<StreamIngest> StreamIngest::resume(Replica& replica) {
  StreamIngest s(replica, {}, "");
  TRELLIS_TRY(replica.store().read([&](const Txn& txn) {
    Cursor c(txn, replica.store().dbs().staged);
    for (bool ok = c.first(); ok; ok = c.next()) {
      auto cid = Cid::from_bytes(c.key());
      if (!cid || c.value().size() != 8) return corrupt("staged holds a bad entry");
      s.staged_.push_back({get_u64be(c.value()), std::move(*cid)});
    }
    return Status::ok();
  }));
  return s;
}

Result<SyncResult> StreamIngest::add(std::span<const IncomingBlock> blocks) {
  const Dbs& d = replica_.store().dbs();
  SyncResult res;
  // Kept aside until the transaction commits (Store::write may run it again).
  DigestSet taken, fresh;
  std::vector<Staged> added;
  TRELLIS_TRY(replica_.store().write([&](Txn& txn) {
    res = SyncResult{};
    taken.clear();
    fresh.clear();
    added.clear();
    size_t taken_expected = 0;  // entries of expected_ received in this batch
    for (const auto& in : blocks) {
      auto intake = take_in(txn, d, in, res);
      if (!intake) return intake.status();
      if (*intake != Intake::fresh) continue;
      auto reject = [&](const std::string& why) {
        res.rejected.push_back(in.cid.to_string() + ": " + why);
      };
      const Digest digest = *digest_of(in.cid);  // take_in checked the CID
      bool asked = (expected_.count(digest) || fresh.count(digest)) && !taken.count(digest);
      if (!asked && !txn.has(d.wants, in.cid.view())) {
        reject("block was not asked for");
        continue;
      }
      auto block = decode_block(in.bytes);
      if (!block) {
        TRELLIS_TRY(txn.del(d.wants, in.cid.view()));  // the CID names these bytes forever
        reject(block.status().message());
        continue;
      }
      Bytes priority;
      put_u64be(priority, block->delta.priority);
      TRELLIS_TRY(txn.put(d.blocks, in.cid.view(), in.bytes));
      TRELLIS_TRY(txn.put(d.staged, in.cid.view(), priority));
      TRELLIS_TRY(txn.del(d.wants, in.cid.view()));
      if (!fresh.erase(digest)) taken_expected += expected_.count(digest);
      taken.insert(digest);
      for (const auto& l : block->links) {
        auto ld = digest_of(l);
        if (ld && !taken.count(*ld) && !expected_.count(*ld) && !txn.has(d.merged, l.view()))
          fresh.insert(*ld);
      }
      if (expected_.size() - taken_expected + fresh.size() > max_expected_)
        return too_large("the stream names more than " + std::to_string(max_expected_) +
                         " blocks not received yet");
      added.push_back({block->delta.priority, in.cid});
      ++res.stored;
    }
    return Status::ok();
  }));
  for (const auto& c : taken) expected_.erase(c);
  expected_.insert(fresh.begin(), fresh.end());
  staged_.insert(staged_.end(), added.begin(), added.end());
  sorted_ = false;
  return res;
}

namespace {

// The keys sampled to choose the range bounds, one per `stride` bytes of
// deltas (so that ranges split bytes evenly): every key until there are
// kMaxSamples, then every other one is dropped and the stride doubles.
constexpr size_t kMaxSamples = size_t{1} << 14;
// Bytes an entry takes beyond its key and value: the id (a CID), the
// priority, the separator; and the bytes of a page of `elems`.
constexpr size_t kEntryOverhead = 48;
constexpr double kPageBytes = 4096;
// Each range decodes every block again, so past kFewRanges a range may
// grow to kWideRange times the bounds of one block-by-block transaction;
// beyond kMaxRanges ranges of that size, block by block.
constexpr size_t kFewRanges = 16;
constexpr size_t kWideRange = 4;
constexpr size_t kMaxRanges = 64;

}  // namespace

Status StreamIngest::make_plan() {
  plan_.made = true;
  const Dbs& d = replica_.store().dbs();
  std::vector<Cid> blocks;
  std::vector<std::string> samples;
  size_t stride = 1, since = 0, entries = 0, bytes = 0, existing = 0;
  bool usable = true;
  auto sample = [&](std::string_view key, size_t size) {
    ++entries;
    bytes += size;
    since += size;
    if (since < stride) return;
    since = 0;
    samples.emplace_back(key);
    if (samples.size() < kMaxSamples) return;
    for (size_t i = 0; 2 * i < samples.size(); ++i) samples[i] = std::move(samples[2 * i]);
    samples.resize((samples.size() + 1) / 2);
    stride *= 2;
  };
  TRELLIS_TRY(replica_.store().read([&](const Txn& txn) {
    std::unordered_set<Cid, CidHash> earlier;
    for (size_t i = next_; i < staged_.size() && usable; ++i) {
      const Cid& cid = staged_[i].cid;
      if (!txn.has(d.staged, cid.view())) continue;
      auto raw = txn.get(d.blocks, cid.view());
      auto block = raw ? decode_block(*raw) : Result<Block>(corrupt("not stored"));
      if (!block) {
        usable = false;  // block by block, which reports it
        break;
      }
      for (const auto& l : block->links)
        usable = usable && (earlier.count(l) || txn.has(d.merged, l.view()));
      for (const auto& t : block->delta.tombstones) sample(t.key, t.key.size() + kEntryOverhead);
      for (const auto& e : block->delta.elements)
        sample(e.key, e.key.size() + e.value.size() + kEntryOverhead);
      earlier.insert(cid);
      blocks.push_back(cid);
    }
    existing = txn.count(d.elems);
    return Status::ok();
  }));
  // Small enough for one transaction of the block-by-block path, or a
  // block whose links are not all before it (left to the general path).
  if (!usable || blocks.size() < 2 || (entries <= kMaxEntriesPerTxn && bytes <= kMaxQueuedBytes))
    return Status::ok();
  // Each range queues at most kMaxQueuedBytes, and may dirty at most as
  // many `elems` pages as a block-by-block transaction: its share of the
  // pages that the existing and the new entries fill (at ~2/3 full). Past
  // kFewRanges, ranges up to kWideRange times that keep their number (and
  // the decoding of every block per range) down.
  const double per_entry = static_cast<double>(bytes) / static_cast<double>(entries);
  const double pages = 1.5 * static_cast<double>(existing + entries) * per_entry / kPageBytes;
  auto ranges_of = [&](size_t scale) {
    return std::max((bytes + scale * kMaxQueuedBytes - 1) / (scale * kMaxQueuedBytes),
                    static_cast<size_t>(pages / static_cast<double>(scale * kMaxEntriesPerTxn)) + 1);
  };
  const size_t ranges = std::max(std::min(ranges_of(1), kFewRanges), ranges_of(kWideRange));
  if (ranges > kMaxRanges) return Status::ok();
  std::sort(samples.begin(), samples.end());
  for (size_t i = 1; i < ranges; ++i) {
    const std::string& b = samples[i * samples.size() / ranges];
    if (plan_.bounds.empty() || b > plan_.bounds.back()) plan_.bounds.push_back(b);
  }
  // Each range's share of the samples, i.e. of the bytes: keys too alike
  // to cut evenly (one key written over and over) would make a range
  // exceed its bounds, so then block by block.
  size_t from = 0;
  for (size_t i = 0; i <= plan_.bounds.size(); ++i) {
    size_t to = i == plan_.bounds.size()
                    ? samples.size()
                    : static_cast<size_t>(
                          std::lower_bound(samples.begin(), samples.end(), plan_.bounds[i]) -
                          samples.begin());
    if (to - from > 3 * samples.size() / (2 * ranges) + 1) {  // 1.5 times its share
      plan_.bounds.clear();
      return Status::ok();
    }
    from = to;
  }
  plan_.blocks = std::move(blocks);
  return Status::ok();
}

Status StreamIngest::apply_range() {
  const Dbs& d = replica_.store().dbs();
  const size_t i = plan_.next;
  const std::string_view lo = i == 0 ? std::string_view() : plan_.bounds[i - 1];
  const std::string_view hi = i < plan_.bounds.size() ? plan_.bounds[i] : std::string_view();
  std::vector<Change> changes;
  TRELLIS_TRY(replica_.store().write([&](Txn& txn) {
    Merger m(txn, d, replica_.hook_ != nullptr);
    for (const Cid& cid : plan_.blocks) {
      auto raw = txn.get(d.blocks, cid.view());
      if (!raw) return corrupt("staged block " + cid.to_string() + " is not stored");
      auto block = decode_block(*raw);
      if (!block)
        return corrupt("stored block " + cid.to_string() + ": " + block.status().message());
      m.queue_range(cid, *block, lo, hi);
    }
    TRELLIS_TRY(m.flush());
    changes = m.changes();
    return Status::ok();
  }));
  for (const auto& c : changes) replica_.hook_(c);
  if (++plan_.next > plan_.bounds.size()) {
    applied_.insert(plan_.blocks.begin(), plan_.blocks.end());
    plan_.blocks.clear();
  }
  return Status::ok();
}

Result<bool> StreamIngest::merge_step(SyncResult& out) {
  if (next_ >= staged_.size()) return true;  // no write transaction for nothing
  if (!sorted_) {
    std::sort(staged_.begin() + static_cast<std::ptrdiff_t>(next_), staged_.end(),
              [](const Staged& a, const Staged& b) {
                return a.priority != b.priority ? a.priority < b.priority : a.cid < b.cid;
              });
    sorted_ = true;
  }
  if (!plan_.made) TRELLIS_TRY(make_plan());
  if (!plan_.blocks.empty()) {
    TRELLIS_TRY(apply_range());
    return false;
  }
  const Dbs& d = replica_.store().dbs();
  size_t next = next_, merged = 0;
  bool more_ready = false;
  std::vector<Want> wants;
  std::vector<Change> changes;
  TRELLIS_TRY(replica_.store().write([&](Txn& txn) {
    next = next_;
    merged = 0;
    wants.clear();
    Merger m(txn, d, replica_.hook_ != nullptr);
    // Bounded by the entries and bytes queued, not by a block count: one
    // transaction writes each page of `elems` once, so fewer is faster.
    while (next < staged_.size() && !m.full()) {
      const Cid& cid = staged_[next++].cid;
      if (!txn.has(d.staged, cid.view())) continue;  // handled already
      auto bytes = txn.get(d.blocks, cid.view());
      if (!bytes) return corrupt("staged block " + cid.to_string() + " is not stored");
      auto block = decode_block(*bytes);
      if (!block)
        return corrupt("stored block " + cid.to_string() + ": " + block.status().message());
      TRELLIS_TRY(txn.del(d.staged, cid.view()));
      // Oldest first, the links of an honest block are merged by now; any
      // that are not go the general way (waiters, pending count, wants).
      auto ready = wait_on_links(txn, d, cid, *block, peer_, wants);
      if (!ready) return ready.status();
      if (*ready) {
        TRELLIS_TRY(m.merge(cid, *block, false, applied_.count(cid) > 0));
        ++merged;
      }
    }
    // Blocks that waited on the ones merged here (from the general path);
    // drain() also applies the queued deltas.
    BlockCache none;
    auto drained = drain(txn, d, m, none, replica_.opts_.merge_budget);
    if (!drained) return drained.status();
    merged += drained->merged;
    more_ready = drained->more;
    changes = m.changes();
    return Status::ok();
  }));
  next_ = next;
  out.merged += merged;
  out.wants.insert(out.wants.end(), wants.begin(), wants.end());
  for (const auto& c : changes) replica_.hook_(c);
  if (next_ < staged_.size()) return false;
  if (more_ready) {
    auto rest = replica_.drain_ready();
    if (!rest) return rest.status();
    out.merged += *rest;
  }
  return true;
}

}  // namespace trellis
