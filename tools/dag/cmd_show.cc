// trellis-dag show: one block, its links, elements and tombstones.
#include <fmt/format.h>

#include "tools/dag/args.h"
#include "tools/dag/blocks.h"
#include "tools/dag/cli.h"
#include "tools/dag/text.h"

namespace trellis::dag {

namespace {

constexpr size_t kListed = 100;  // entries listed per section without --all

std::string state_text(const Txn& txn, const Dbs& d, const Cid& cid, BlockState s) {
  switch (s) {
    case BlockState::merged: {
      std::string out = fmt::format("merged (height {})", merged_height(txn, d, cid).value_or(0));
      if (txn.has(d.heads, cid.view())) out += ", head";
      return out;
    }
    case BlockState::pending:
      return fmt::format("pending ({} links not merged yet)",
                         pending_count(txn, d, cid).value_or(0));
    case BlockState::ready:
      return "ready (links all merged, merge queued)";
    case BlockState::staged:
      return "staged (streamed; merges when its stream ends or the daemon restarts)";
    case BlockState::stuck:
      return "stored but neither merged, ready, pending nor staged (run verify)";
    case BlockState::wanted: {
      std::string peer = want_peer(txn, d, cid).value_or("");
      return peer.empty() ? "not stored (wanted)" : "not stored (wanted from " + peer + ")";
    }
    case BlockState::absent:
      return "not stored";
  }
  return "?";
}

}  // namespace

int cmd_show(const Context& ctx, Args args) {
  auto parsed = parse_args(
      "show", args,
      {.flags = {"--all"}, .min_positional = 1, .max_positional = 1, .positional_names = "CID"});
  if (!parsed) return kExitUsage;
  auto cid = parse_cid_arg(parsed->positional[0]);
  if (!cid) return usage_error("show", cid.status().message());
  bool all = parsed->has("--all");
  auto store = open_read_only(ctx);
  if (!store) return kExitStore;
  const Dbs& d = store->dbs();
  int rc = kExitOk;
  Status st = store->read([&](const Txn& txn) {
    BlockState state = block_state(txn, d, *cid);
    if (!is_stored(state)) {
      if (ctx.json) {
        json j{{"cid", cid->to_string()}, {"state", state_name(state)}};
        if (state == BlockState::wanted) j["peer"] = want_peer(txn, d, *cid).value_or("");
        fmt::print("{}\n", dump(j));
      }
      error_line(fmt::format("block {} is {}", cid->to_string(), state_text(txn, d, *cid, state)));
      rc = kExitProblems;
      return Status::ok();
    }
    auto bytes = txn.get(d.blocks, cid->view());
    auto block = decode_block(*bytes);
    if (!block)
      return corrupt("stored block " + cid->to_string() +
                     " does not decode: " + block.status().message() + " (run verify)");
    bool merged = state == BlockState::merged;
    const Delta& delta = block->delta;

    if (ctx.json) {
      json j{{"cid", cid->to_string()},
             {"state", state_name(state)},
             {"head", txn.has(d.heads, cid->view())},
             {"priority", delta.priority},
             {"size", bytes->size()}};
      if (auto p = pending_count(txn, d, *cid)) j["links_not_merged"] = *p;
      j["links"] = json::array();
      for (const auto& l : block->links)
        j["links"].push_back(
            {{"cid", l.to_string()}, {"state", state_name(block_state(txn, d, l))}});
      j["elements"] = json::array();
      for (const auto& e : delta.elements) {
        json o;
        put_bytes(o, "key", as_bytes(e.key));
        put_bytes(o, "value", e.value);
        o["fate"] = element_fate(txn, d, *cid, merged, e);
        j["elements"].push_back(std::move(o));
      }
      j["tombstones"] = json::array();
      for (const auto& t : delta.tombstones) {
        json o;
        put_bytes(o, "key", as_bytes(t.key));
        o["id"] = t.id.to_string();
        j["tombstones"].push_back(std::move(o));
      }
      fmt::print("{}\n", dump(j));
      return Status::ok();
    }

    fmt::print("block:      {}\n", cid->to_string());
    fmt::print("state:      {}\n", state_text(txn, d, *cid, state));
    fmt::print("priority:   {}\n", delta.priority);
    fmt::print("size:       {} bytes\n", bytes->size());
    fmt::print("links ({}):\n", block->links.size());
    for (const auto& l : block->links) {
      BlockState ls = block_state(txn, d, l);
      fmt::print("  {}  {}\n", l.to_string(),
                 ls == BlockState::wanted   ? "missing (wanted)"
                 : ls == BlockState::absent ? "missing"
                                            : state_name(ls));
    }
    fmt::print("elements ({}):\n", delta.elements.size());
    size_t shown = 0;
    for (const auto& e : delta.elements) {
      if (!all && shown++ == kListed) {
        fmt::print("  … and {} more (--all lists them)\n", delta.elements.size() - kListed);
        break;
      }
      fmt::print("  {} = {}  [{}]\n", escape_text(e.key), value_preview(e.value),
                 element_fate(txn, d, *cid, merged, e));
    }
    fmt::print("tombstones ({}):\n", delta.tombstones.size());
    shown = 0;
    for (const auto& t : delta.tombstones) {
      if (!all && shown++ == kListed) {
        fmt::print("  … and {} more (--all lists them)\n", delta.tombstones.size() - kListed);
        break;
      }
      fmt::print("  {}  (element of {})\n", escape_text(t.key), t.id.to_string());
    }
    return Status::ok();
  });
  if (!st) return store_error(st);
  return rc;
}

}  // namespace trellis::dag
