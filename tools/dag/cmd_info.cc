// trellis-dag info, heads: summary counts of a store snapshot.
#include <fmt/format.h>

#include <vector>

#include "tools/dag/args.h"
#include "tools/dag/cli.h"
#include "tools/dag/counts.h"
#include "tools/dag/store_dir.h"
#include "tools/dag/text.h"

namespace trellis::dag {

namespace {

constexpr size_t kHeadsShown = 10;

}  // namespace

int cmd_info(const Context& ctx, Args args) {
  if (!parse_args("info", args, {})) return kExitUsage;
  auto store = open_read_only(ctx);
  if (!store) return kExitStore;
  const Dbs& d = store->dbs();
  StoreCounts n;
  Status st = store->read([&](const Txn& txn) {
    auto counted = count_store(txn, d);
    if (!counted) return counted.status();
    n = *counted;
    return Status::ok();
  });
  if (!st) return store_error(st);
  const auto& heads = n.heads;
  size_t map_size = store->map_size();
  const uint64_t file_size = store_file_size(ctx.store_dir);

  if (ctx.json) {
    json j;
    j["store"] = ctx.store_dir;
    j["heads"] = json::array();
    for (const auto& h : heads)
      j["heads"].push_back({{"cid", h.first.to_string()}, {"height", h.second}});
    j["max_height"] = n.max_height;
    j["blocks"] = n.blocks;
    j["merged"] = n.merged;
    j["pending"] = n.pending;
    j["ready"] = n.ready;
    j["staged"] = n.staged;
    j["wants"] = n.wants;
    j["keys"] = n.keys;
    j["elements"] = n.elements;
    j["tombstones"] = n.tombstones;
    j["map_size"] = map_size;
    j["file_size"] = file_size;
    fmt::print("{}\n", dump(j));
    return kExitOk;
  }
  fmt::print("store:       {}\n", ctx.store_dir);
  fmt::print("heads:       {} (max height {})\n", heads.size(), n.max_height);
  for (size_t i = 0; i < heads.size() && i < kHeadsShown; ++i)
    fmt::print("  {} {}\n", heads[i].first.to_string(), heads[i].second);
  if (heads.size() > kHeadsShown)
    fmt::print("  … and {} more (trellis-dag {} heads lists them all)\n",
               heads.size() - kHeadsShown, ctx.store_dir);
  fmt::print("blocks:      {} stored: {} merged, {} pending, {} ready, {} staged\n", n.blocks,
             n.merged, n.pending, n.ready, n.staged);
  fmt::print("wants:       {}{}\n", n.wants,
             n.wants ? " (blocks referenced but not stored yet)" : "");
  fmt::print("keys:        {} live\n", n.keys);
  fmt::print("elements:    {} live, {} tombstones\n", n.elements, n.tombstones);
  fmt::print("map size:    {} (data.mdb {})\n", human_size(map_size), human_size(file_size));
  return kExitOk;
}

int cmd_heads(const Context& ctx, Args args) {
  if (!parse_args("heads", args, {})) return kExitUsage;
  auto store = open_read_only(ctx);
  if (!store) return kExitStore;
  Result<ReplicaInfo> info = ReplicaInfo{};
  Status st = store->read([&](const Txn& txn) {
    info = read_info(txn, store->dbs());
    return info.status();
  });
  if (!st) return store_error(st);
  const auto& heads = info->heads;
  if (ctx.json) {
    json j = json::array();
    for (const auto& h : heads) j.push_back({{"cid", h.first.to_string()}, {"height", h.second}});
    fmt::print("{}\n", dump(j));
    return kExitOk;
  }
  for (const auto& h : heads) fmt::print("{} {}\n", h.first.to_string(), h.second);
  return kExitOk;
}

}  // namespace trellis::dag
