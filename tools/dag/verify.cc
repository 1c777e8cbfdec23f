// trellis-dag verify: per-block checks, the merged/heads tables, the command
// and its summary.
#include "tools/dag/verify.h"

#include <fmt/format.h>

#include <algorithm>

#include "crdt/block.h"
#include "tools/dag/args.h"
#include "tools/dag/blocks.h"
#include "tools/dag/cli.h"
#include "tools/dag/text.h"

namespace trellis::dag {

namespace {

bool is_block_cid(const Cid& cid) {
  return cid.version() == 1 && cid.codec() == kCodecMessagePack && cid.hash().code == kHashSha256;
}

// waiters holds link → waiting block (dupsort).
bool has_waiter(const Txn& txn, MDB_dbi waiters, const Cid& link, const Cid& block) {
  MDB_cursor* cur = nullptr;
  if (mdb_cursor_open(txn.raw(), waiters, &cur) != 0) return false;
  MDB_val k{link.view().size(), const_cast<uint8_t*>(link.view().data())};
  MDB_val v{block.view().size(), const_cast<uint8_t*>(block.view().data())};
  bool found = mdb_cursor_get(cur, &k, &v, MDB_GET_BOTH) == 0;
  mdb_cursor_close(cur);
  return found;
}

// The priority of a stored link: from `merged`, else by decoding it.
std::optional<uint64_t> link_priority(const Txn& txn, const Dbs& d, const Cid& link, bool merged) {
  if (merged) return merged_height(txn, d, link);
  auto b = load_block(txn, d, link);
  if (!b) return std::nullopt;
  return b->delta.priority;
}

void check_one_block(const Txn& txn, const Dbs& d, const Cid& cid, const Block& block,
                     VerifyReport& report, VerifyStats& stats) {
  const std::string name = cid.to_string();
  const std::optional<uint64_t> height = merged_height(txn, d, cid);
  const bool merged = height.has_value();
  if (merged && *height != block.delta.priority)
    report.problem(checks::kWalkState, name,
                   fmt::format("merged records height {} but the block's priority is {}", *height,
                               block.delta.priority));

  // A staged block came in a newest-first stream: its links may not have
  // arrived yet and it has no waiters until its stream is merged.
  const bool staged = !merged && txn.has(d.staged, cid.view());
  uint64_t unmerged_links = 0;
  uint64_t max_link = 0;
  bool priorities_known = true;
  for (const auto& l : block.links) {
    const bool l_stored = txn.has(d.blocks, l.view());
    const bool l_merged = txn.has(d.merged, l.view());
    if (!l_merged) ++unmerged_links;
    if (merged) {
      if (!l_stored)
        report.problem(checks::kLinks, name,
                       "merged block links to " + l.to_string() + ", which is not stored");
      else if (!l_merged)
        report.problem(checks::kMergedLinks, name,
                       "merged block links to " + l.to_string() + ", which is not merged");
    } else if (!staged) {
      if (!l_stored) {
        if (txn.has(d.wants, l.view()))
          report.missing_wanted(l.to_string(), name);
        else
          report.warning(checks::kLinks, name,
                         "links to " + l.to_string() +
                             ", which is neither stored nor wanted: the block stays pending "
                             "until a peer announces it again");
      }
      if (!l_merged && !has_waiter(txn, d.waiters, l, cid))
        report.problem(checks::kWalkState, name,
                       "waits on " + l.to_string() +
                           " but waiters has no such entry, so "
                           "merging it would not release this block");
    }
    std::optional<uint64_t> p;
    if (l_stored) p = link_priority(txn, d, l, l_merged);
    if (p)
      max_link = std::max(max_link, *p);
    else
      priorities_known = false;
  }
  if (priorities_known && block.delta.priority != max_link + 1)
    report.warning(checks::kPriority, name,
                   fmt::format("priority {} is not 1 + the highest link priority ({})",
                               block.delta.priority, max_link + 1));

  if (merged) return;
  auto pend = pending_count(txn, d, cid);
  const bool ready = txn.has(d.ready, cid.view());
  if (int(bool(pend)) + int(ready) + int(staged) > 1) {
    report.problem(checks::kWalkState, name,
                   "block is in more than one of pending, ready and staged");
  } else if (staged) {
    ++stats.staged;  // its links need not be stored yet: the stream was newest first
  } else if (pend) {
    ++stats.pending;
    if (*pend != unmerged_links)
      report.problem(
          checks::kWalkState, name,
          fmt::format("pending count is {} but {} of its links are not merged{}", *pend,
                      unmerged_links, unmerged_links == 0 ? " (it should be ready)" : ""));
  } else if (ready) {
    ++stats.ready;
    if (unmerged_links != 0)
      report.problem(
          checks::kWalkState, name,
          fmt::format("block is ready but {} of its links are not merged", unmerged_links));
  } else {
    report.problem(checks::kWalkState, name,
                   "stored but neither merged, pending, ready nor staged: it will never be "
                   "merged");
  }
}

std::string check_line(const VerifyReport& r, const char* check, const std::string& ok_detail) {
  uint64_t p = r.problems_in(check), w = r.warnings_in(check);
  std::string out = p ? count_of(p, "problem", "problems") : "ok";
  if (w) out += ", " + count_of(w, "warning", "warnings");
  if (!p && !ok_detail.empty()) out += " (" + ok_detail + ")";
  return out;
}

}  // namespace

Status check_blocks(const Txn& txn, const Dbs& d, VerifyReport& report, VerifyStats& stats) {
  Cursor c(txn, d.blocks);
  for (bool ok = c.first(); ok; ok = c.next()) {
    ++stats.blocks;
    auto cid = Cid::from_bytes(c.key());
    if (!cid) {
      report.problem(checks::kHash, to_hex(c.key()),
                     "blocks holds a malformed CID: " + cid.status().message());
      continue;
    }
    if (!is_block_cid(*cid))
      report.problem(checks::kHash, cid->to_string(),
                     "not a Trellis block CID (CIDv1, messagepack, sha2-256)");
    else if (Cid::of_block(c.value()) != *cid)
      report.problem(checks::kHash, cid->to_string(),
                     "the stored bytes do not hash to the CID (the block is damaged)");
    auto block = decode_block(c.value());
    if (!block) {
      report.problem(checks::kDecode, cid->to_string(),
                     "does not decode: " + block.status().message());
      continue;
    }
    check_one_block(txn, d, *cid, *block, report, stats);
  }
  return Status::ok();
}

Status check_merged_and_heads(const Txn& txn, const Dbs& d, VerifyReport& report,
                              VerifyStats& stats) {
  Cursor m(txn, d.merged);
  for (bool ok = m.first(); ok; ok = m.next()) {
    ++stats.merged;
    auto cid = Cid::from_bytes(m.key());
    if (!cid) {
      report.problem(checks::kWalkState, to_hex(m.key()), "merged holds a malformed CID");
      continue;
    }
    if (!txn.has(d.blocks, m.key()))
      report.problem(checks::kLinks, cid->to_string(),
                     "block is merged but not stored (its bytes are lost)");
  }
  Cursor h(txn, d.heads);
  for (bool ok = h.first(); ok; ok = h.next()) {
    ++stats.heads;
    auto cid = Cid::from_bytes(h.key());
    if (!cid) {
      report.problem(checks::kWalkState, to_hex(h.key()), "heads holds a malformed CID");
      continue;
    }
    auto height = merged_height(txn, d, *cid);
    if (!height)
      report.problem(checks::kWalkState, cid->to_string(), "head is not merged");
    else if (*height != get_u64be(h.value()))
      report.problem(checks::kWalkState, cid->to_string(),
                     fmt::format("head records height {} but merged records {}",
                                 get_u64be(h.value()), *height));
  }
  Cursor w(txn, d.wants);
  for (bool ok = w.first(); ok; ok = w.next()) {
    ++stats.wants;
    if (txn.has(d.blocks, w.key())) {
      auto cid = Cid::from_bytes(w.key());
      report.warning(checks::kWalkState, cid ? cid->to_string() : to_hex(w.key()),
                     "wanted although already stored");
    }
  }
  return Status::ok();
}

int cmd_verify(const Context& ctx, Args args) {
  if (!parse_args("verify", args, {})) return kExitUsage;
  auto store = open_read_only(ctx);
  if (!store) return kExitStore;
  VerifyReport report(ctx.json);
  VerifyStats stats;
  if (!ctx.json) fmt::print("verifying {}\n", ctx.store_dir);
  Status st = store->read([&](const Txn& txn) {
    const Dbs& d = store->dbs();
    TRELLIS_TRY(check_blocks(txn, d, report, stats));
    TRELLIS_TRY(check_merged_and_heads(txn, d, report, stats));
    TRELLIS_TRY(check_reachability(txn, d, report, stats));
    return check_recomputed(txn, d, report, stats);
  });
  if (!st) return store_error(st);

  if (ctx.json) {
    json extra{{"store", ctx.store_dir},
               {"blocks", stats.blocks},
               {"merged", stats.merged},
               {"pending", stats.pending},
               {"ready", stats.ready},
               {"staged", stats.staged},
               {"heads", stats.heads},
               {"wants", stats.wants},
               {"reachable", stats.reachable},
               {"keys", stats.stored_keys},
               {"recomputed_keys", stats.recomputed_keys}};
    fmt::print("{}\n", dump(report.to_json(std::move(extra))));
  } else {
    using namespace checks;
    fmt::print("summary:\n");
    fmt::print("  blocks:        {} stored ({} merged, {} pending, {} ready, {} staged), {}, {}\n",
               stats.blocks, stats.merged, stats.pending, stats.ready, stats.staged,
               count_of(stats.heads, "head", "heads"), count_of(stats.wants, "want", "wants"));
    fmt::print("  hashes:        {}\n", check_line(report, kHash, ""));
    fmt::print("  decoding:      {}\n", check_line(report, kDecode, ""));
    fmt::print("  links:         {}\n",
               check_line(report, kLinks,
                          report.wanted_links() ? count_of(report.wanted_links(), "link", "links") +
                                                      " of pending blocks missing (wanted)"
                                                : ""));
    fmt::print("  merged links:  {}\n", check_line(report, kMergedLinks, ""));
    fmt::print("  reachability:  {}\n",
               check_line(report, kReach,
                          fmt::format("{} reachable from {}",
                                      count_of(stats.reachable, "merged block", "merged blocks"),
                                      count_of(stats.heads, "head", "heads"))));
    fmt::print("  walk state:    {}\n", check_line(report, kWalkState, ""));
    fmt::print("  recomputed:    {}\n",
               check_line(report, kState,
                          count_of(stats.stored_keys, "live key", "live keys") + ", same heads"));
    fmt::print("  priorities:    {}\n", check_line(report, kPriority, ""));
    if (report.problems() == 0)
      fmt::print(
          "result: OK{}\n",
          report.warnings() ? " (" + count_of(report.warnings(), "warning", "warnings") + ")" : "");
    else
      fmt::print("result: {}, {}\n", count_of(report.problems(), "problem", "problems"),
                 count_of(report.warnings(), "warning", "warnings"));
  }
  return report.problems() ? kExitProblems : kExitOk;
}

}  // namespace trellis::dag
