// trellis-dag verify: recompute the state from the merged blocks alone in a
// temporary replica and compare live keys, values and heads with the store.
#include <fmt/format.h>

#include <algorithm>
#include <compare>
#include <map>

#include "crdt/replica.h"
#include "tools/dag/live.h"
#include "tools/dag/order.h"
#include "tools/dag/scratch.h"
#include "tools/dag/text.h"
#include "tools/dag/verify.h"

namespace trellis::dag {

namespace {

constexpr size_t kBatchBlocks = 1000;
constexpr size_t kBatchBytes = size_t{64} << 20;

std::string quoted_key(std::string_view key) {
  return "'" + escape_text(key) + "'";
}

Status compare_heads(const Txn& txn, const Dbs& d, const ReplicaInfo& info, VerifyReport& report) {
  std::map<Bytes, uint64_t> stored, recomputed;
  Cursor c(txn, d.heads);
  for (bool ok = c.first(); ok; ok = c.next())
    stored.emplace(Bytes(c.key().begin(), c.key().end()), get_u64be(c.value()));
  for (const auto& [cid, height] : info.heads) recomputed.emplace(cid.bytes(), height);
  auto name = [](const Bytes& b) {
    auto cid = Cid::from_bytes(b);
    return cid ? cid->to_string() : to_hex(b);
  };
  for (const auto& [cid, height] : stored) {
    auto it = recomputed.find(cid);
    if (it == recomputed.end())
      report.problem(checks::kState, name(cid),
                     "is a head in the store but not in the recomputed state");
    else if (it->second != height)
      report.problem(
          checks::kState, name(cid),
          fmt::format("head has height {} in the store, {} recomputed", height, it->second));
  }
  for (const auto& [cid, height] : recomputed)
    if (!stored.count(cid))
      report.problem(checks::kState, name(cid),
                     "is a head of the recomputed state but not in the store");
  return Status::ok();
}

Status compare_live(const Txn& txn, const Dbs& d, const Replica& rep, VerifyReport& report,
                    VerifyStats& stats) {
  LiveKeys live(txn, d);
  auto only_stored = [&] {
    ++stats.stored_keys;
    report.problem(checks::kState, "",
                   fmt::format("key {} = {} is live in the store but not in the recomputed state",
                               quoted_key(live.key()), value_preview(live.value())));
    live.next();
  };
  TRELLIS_TRY(rep.scan("", [&](std::string_view key, ByteView value) {
    ++stats.recomputed_keys;
    while (live.valid() && live.key() < key) only_stored();
    if (live.valid() && live.key() == key) {
      ++stats.stored_keys;
      if (!std::equal(value.begin(), value.end(), live.value().begin(), live.value().end()))
        report.problem(checks::kState, "",
                       fmt::format("key {} is {} in the store but {} recomputed", quoted_key(key),
                                   value_preview(live.value()), value_preview(value)));
      live.next();
    } else {
      report.problem(checks::kState, "",
                     fmt::format("key {} = {} is live in the recomputed state but not in the store",
                                 quoted_key(key), value_preview(value)));
    }
    return true;
  }));
  while (live.valid()) only_stored();
  return live.status();
}

// Compares a table of the store with the same table of the recomputed
// replica, entry by entry (both sorted the same way).
Status compare_table(const Txn& txn, MDB_dbi stored_db, const Replica& rep, MDB_dbi fresh_db,
                     const char* table, VerifyReport& report) {
  return rep.store().read([&](const Txn& fresh_txn) {
    Cursor a(txn, stored_db), b(fresh_txn, fresh_db);
    bool ha = a.first(), hb = b.first();
    auto entry = [](ByteView k) {
      std::string_view key;
      ByteView id;
      if (!split_element_key(k, &key, &id)) return to_hex(k);
      auto cid = Cid::from_bytes(id);
      return fmt::format("{} of block {}", quoted_key(key), cid ? cid->to_string() : to_hex(id));
    };
    while (ha || hb) {
      std::strong_ordering order =
          !ha   ? std::strong_ordering::greater
          : !hb ? std::strong_ordering::less
                : std::lexicographical_compare_three_way(a.key().begin(), a.key().end(),
                                                         b.key().begin(), b.key().end());
      if (order < 0) {
        report.problem(
            checks::kState, "",
            fmt::format("{} holds {} but the recomputed state does not", table, entry(a.key())));
        ha = a.next();
      } else if (order > 0) {
        report.problem(checks::kState, "",
                       fmt::format("the recomputed state has {} in {} but the store does not",
                                   entry(b.key()), table));
        hb = b.next();
      } else {
        if (!std::equal(a.value().begin(), a.value().end(), b.value().begin(), b.value().end()))
          report.problem(
              checks::kState, "",
              fmt::format("{} entry {} differs from the recomputed one", table, entry(a.key())));
        ha = a.next();
        hb = b.next();
      }
    }
    return Status::ok();
  });
}

}  // namespace

Status check_recomputed(const Txn& txn, const Dbs& d, VerifyReport& report, VerifyStats& stats) {
  auto dir = make_temp_dir("trellis-verify");
  if (!dir) return dir.status();
  struct Cleanup {
    std::string dir;
    ~Cleanup() { remove_temp_dir(dir); }
  } cleanup{*dir};
  ReplicaOptions opts;
  opts.sync = false;
  opts.initial_map_size = size_t{64} << 20;
  auto opened = Replica::open(*dir, opts);
  if (!opened) return opened.status();
  std::unique_ptr<Replica> rep = std::move(*opened);

  std::vector<IncomingBlock> batch;
  size_t batch_bytes = 0, rejected = 0;
  std::string first_rejection;
  auto flush = [&]() -> Status {
    if (batch.empty()) return Status::ok();
    auto res = rep->on_blocks(batch, Accept::any);
    if (!res)
      return Status(res.status().code(),
                    "recomputing the state in " + *dir + ": " + res.status().message());
    rejected += res->rejected.size();
    if (first_rejection.empty() && !res->rejected.empty()) first_rejection = res->rejected[0];
    batch.clear();
    batch_bytes = 0;
    return Status::ok();
  };
  TRELLIS_TRY(for_each_merged_by_height(txn, d, [&](const Cid& cid, std::optional<ByteView> bytes) {
    if (!bytes) return Status::ok();  // reported by check_merged_and_heads
    batch.push_back({cid, Bytes(bytes->begin(), bytes->end())});
    batch_bytes += bytes->size();
    ++stats.refed;
    if (batch.size() >= kBatchBlocks || batch_bytes >= kBatchBytes) return flush();
    return Status::ok();
  }));
  TRELLIS_TRY(flush());

  if (rejected)
    report.problem(checks::kState, "",
                   fmt::format("{} merged blocks were rejected by a fresh replica (first: {})",
                               rejected, first_rejection));
  auto info = rep->info();
  if (!info) return info.status();
  if (info->merged != stats.refed)
    report.problem(checks::kState, "",
                   fmt::format("only {} of the {} stored merged blocks merge again from the "
                               "blocks alone: the rest miss links or are damaged",
                               info->merged, stats.refed));
  TRELLIS_TRY(compare_heads(txn, d, *info, report));
  TRELLIS_TRY(compare_live(txn, d, *rep, report, stats));
  // Below the winners: every element and tombstone, so that damage to a
  // value that does not win today is found too.
  TRELLIS_TRY(compare_table(txn, d.elems, *rep, rep->store().dbs().elems, "elems", report));
  return compare_table(txn, d.tombs, *rep, rep->store().dbs().tombs, "tombs", report);
}

}  // namespace trellis::dag
