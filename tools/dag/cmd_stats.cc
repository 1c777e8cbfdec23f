// trellis-dag stats: sizes, counts and the shape of the DAG (width per
// height), streamed from one snapshot.
#include <fmt/format.h>

#include <algorithm>

#include "crdt/replica.h"
#include "tools/dag/args.h"
#include "tools/dag/cli.h"
#include "tools/dag/counts.h"
#include "tools/dag/shape.h"
#include "tools/dag/store_dir.h"
#include "tools/dag/text.h"

namespace trellis::dag {

namespace {

constexpr uint64_t kDefaultBuckets = 20;
constexpr uint64_t kBarWidth = 30;  // characters of the histogram's longest bar

// The distinct keys of an elems or tombs table (key ‖ 0 ‖ id), one seek
// per key. Stops at a malformed entry (verify reports it).
class TableKeys {
 public:
  TableKeys(const Txn& txn, MDB_dbi db) : cursor_(txn, db) { load(cursor_.first()); }
  bool valid() const { return valid_; }
  std::string_view key() const { return key_; }
  // Keys hold no NUL byte: key ‖ 1 sorts after every key ‖ 0 ‖ id.
  void next() { load(cursor_.seek(as_bytes(key_ + '\x01'))); }

 private:
  void load(bool found) {
    std::string_view k;
    ByteView id;
    valid_ = found && split_element_key(cursor_.key(), &k, &id);
    if (valid_) key_ = k;
  }
  Cursor cursor_;
  bool valid_ = false;
  std::string key_;
};

// Keys with a live or a tombstoned element: every key ever set in a merged block.
uint64_t keys_ever_set(const Txn& txn, const Dbs& d) {
  TableKeys live(txn, d.elems), removed(txn, d.tombs);
  uint64_t n = 0;
  for (; live.valid() || removed.valid(); ++n) {
    int c = !live.valid() ? 1 : !removed.valid() ? -1 : live.key().compare(removed.key());
    if (c <= 0) live.next();
    if (c >= 0) removed.next();
  }
  return n;
}

uint64_t block_bytes(const Txn& txn, const Dbs& d) {
  uint64_t total = 0;
  Cursor c(txn, d.blocks);
  for (bool ok = c.first(); ok; ok = c.next()) total += c.value().size();
  return total;
}

double ratio(uint64_t part, uint64_t whole) {
  return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}

}  // namespace

int cmd_stats(const Context& ctx, Args args) {
  auto parsed = parse_args("stats", args, {.with_value = {"--buckets"}});
  if (!parsed) return kExitUsage;
  uint64_t max_buckets = kDefaultBuckets;
  if (auto b = parsed->get("--buckets")) {
    auto n = parse_count(*b);
    if (!n || *n == 0) return usage_error("stats", "--buckets needs a positive number");
    max_buckets = *n;
  }
  auto store = open_read_only(ctx);
  if (!store) return kExitStore;
  const Dbs& d = store->dbs();
  StoreCounts n;
  DagShape shape;
  uint64_t bytes = 0, ever = 0;
  Status st = store->read([&](const Txn& txn) {
    auto counted = count_store(txn, d);
    if (!counted) return counted.status();
    n = *counted;
    bytes = block_bytes(txn, d);
    ever = keys_ever_set(txn, d);
    auto s = dag_shape(txn, d, n.max_height, max_buckets);
    if (!s) return s.status();
    shape = std::move(*s);
    return Status::ok();
  });
  if (!st) return store_error(st);
  const uint64_t file_size = store_file_size(ctx.store_dir);
  const double tomb_ratio = ratio(n.tombstones, n.elements + n.tombstones);

  if (ctx.json) {
    json j{{"store", ctx.store_dir},
           {"blocks", n.blocks},
           {"merged", n.merged},
           {"pending", n.pending},
           {"ready", n.ready},
           {"staged", n.staged},
           {"wants", n.wants},
           {"block_bytes", bytes},
           {"file_size", file_size},
           {"depth", n.max_height},
           {"heads", n.heads.size()},
           {"elements", n.elements},
           {"tombstones", n.tombstones},
           {"tombstone_ratio", tomb_ratio},
           {"keys", n.keys},
           {"keys_ever_set", ever},
           {"max_width", shape.max_width},
           {"max_width_height", shape.max_width_height},
           {"concurrent_heights", shape.concurrent_heights},
           {"merges", shape.merges}};
    j["heights"] = json::array();
    for (const auto& b : shape.buckets)
      j["heights"].push_back({{"from", b.from},
                              {"to", b.to},
                              {"blocks", b.blocks},
                              {"max_width", b.max_width},
                              {"merges", b.merges}});
    fmt::print("{}\n", dump(j));
    return kExitOk;
  }
  fmt::print("store:       {}\n", ctx.store_dir);
  fmt::print("blocks:      {} stored: {} merged, {} pending, {} ready, {} staged; {} wanted\n",
             n.blocks, n.merged, n.pending, n.ready, n.staged, n.wants);
  fmt::print("bytes:       {} of blocks (mean {}); data.mdb {}\n", human_size(bytes),
             human_size(n.blocks ? bytes / n.blocks : 0), human_size(file_size));
  fmt::print("depth:       {} (max height); {} now\n", n.max_height,
             count_of(n.heads.size(), "head", "heads"));
  fmt::print("width:       widest {} at height {}; {} of {} heights have concurrent blocks; {}\n",
             shape.max_width, shape.max_width_height, shape.concurrent_heights, n.max_height,
             count_of(shape.merges, "merge", "merges"));
  fmt::print("elements:    {} live, {} tombstones ({:.1f}% tombstones)\n", n.elements, n.tombstones,
             100 * tomb_ratio);
  fmt::print("keys:        {} live, {} ever set\n", n.keys, ever);
  if (shape.buckets.empty()) return kExitOk;
  uint64_t most = 1;  // blocks in the fullest range
  for (const auto& b : shape.buckets) most = std::max(most, b.blocks);
  fmt::print("  {:>17}  {:>8}  {:>6}  {:>6}\n", "heights", "blocks", "widest", "merges");
  for (const auto& b : shape.buckets)
    fmt::print("  {:>17}  {:>8}  {:>6}  {:>6}  {}\n",
               b.from == b.to ? std::to_string(b.from) : fmt::format("{}-{}", b.from, b.to),
               b.blocks, b.max_width, b.merges, std::string(kBarWidth * b.blocks / most, '#'));
  return kExitOk;
}

}  // namespace trellis::dag
