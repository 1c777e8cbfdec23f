// trellis-dag walk: breadth-first down the links, one line per block.
#include <fmt/format.h>

#include <limits>
#include <vector>

#include "tools/dag/args.h"
#include "tools/dag/blocks.h"
#include "tools/dag/cli.h"
#include "tools/dag/scratch.h"
#include "tools/dag/text.h"

namespace trellis::dag {

namespace {

void print_block(const Context& ctx, const Cid& cid, const Block& b, BlockState s) {
  if (ctx.json) {
    fmt::print("{}\n", dump(json{{"cid", cid.to_string()},
                                 {"height", b.delta.priority},
                                 {"elements", b.delta.elements.size()},
                                 {"tombstones", b.delta.tombstones.size()},
                                 {"links", b.links.size()},
                                 {"state", state_name(s)}}));
  } else {
    fmt::print("{} {} {} {} {}\n", cid.to_string(), b.delta.priority, b.delta.elements.size(),
               b.delta.tombstones.size(), state_name(s));
  }
}

void print_missing(const Context& ctx, const Cid& cid, BlockState s, std::string_view why = {}) {
  const bool wanted = s == BlockState::wanted;
  if (ctx.json) {
    json j{{"cid", cid.to_string()}, {"state", why.empty() ? "missing" : "corrupt"}};
    if (why.empty())
      j["wanted"] = wanted;
    else
      j["error"] = std::string(why);
    fmt::print("{}\n", dump(j));
  } else if (why.empty()) {
    fmt::print("{} - - - {}\n", cid.to_string(), wanted ? "missing (wanted)" : "missing");
  } else {
    fmt::print("{} - - - corrupt ({})\n", cid.to_string(), why);
  }
}

}  // namespace

int cmd_walk(const Context& ctx, Args args) {
  // --from may be repeated: collect them by hand around parse_args.
  std::vector<std::string> froms;
  std::vector<std::string> rest;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--") {
      rest.insert(rest.end(), args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
      break;
    }
    if (args[i] == "--from") {
      if (i + 1 >= args.size()) return usage_error("walk", "--from needs a CID");
      froms.push_back(args[++i]);
    } else if (args[i].starts_with("--from=")) {
      froms.push_back(args[i].substr(7));
    } else {
      rest.push_back(args[i]);
    }
  }
  auto parsed = parse_args("walk", rest, {.with_value = {"--limit"}});
  if (!parsed) return kExitUsage;
  uint64_t limit = std::numeric_limits<uint64_t>::max();
  if (auto l = parsed->get("--limit")) {
    auto n = parse_count(*l);
    if (!n || *n == 0) return usage_error("walk", "--limit needs a positive number");
    limit = *n;
  }
  std::vector<Cid> starts;
  for (const auto& f : froms) {
    auto cid = parse_cid_arg(f);
    if (!cid) return usage_error("walk", cid.status().message());
    starts.push_back(std::move(*cid));
  }

  auto store = open_read_only(ctx);
  if (!store) return kExitStore;
  auto scratch = ScratchDb::create();
  if (!scratch) return store_error(scratch.status());
  ScratchDb& seen = **scratch;
  const Dbs& d = store->dbs();
  uint64_t printed = 0, missing = 0;

  Status st = store->read([&](const Txn& txn) {
    auto enqueue = [&](const Cid& c) -> Status {
      auto fresh = seen.insert(c.view());
      if (!fresh) return fresh.status();
      if (*fresh) TRELLIS_TRY(seen.push(c.view()));
      return Status::ok();
    };
    if (starts.empty()) {
      Cursor c(txn, d.heads);
      for (bool ok = c.first(); ok; ok = c.next()) {
        auto cid = Cid::from_bytes(c.key());
        if (!cid) return corrupt("heads holds a malformed CID " + to_hex(c.key()));
        TRELLIS_TRY(enqueue(*cid));
      }
      if (seen.queue_size() == 0) error_line("the store has no heads (nothing merged yet)");
    } else {
      for (const auto& s : starts) TRELLIS_TRY(enqueue(s));
    }
    while (printed < limit) {
      auto item = seen.pop();
      if (!item) return item.status();
      if (!*item) break;
      auto cid = Cid::from_bytes(**item);
      if (!cid) return corrupt("walk queue holds a malformed CID");
      ++printed;
      BlockState s = block_state(txn, d, *cid);
      if (!is_stored(s)) {
        ++missing;
        print_missing(ctx, *cid, s);
        continue;
      }
      auto block = load_block(txn, d, *cid);
      if (!block) {
        ++missing;
        print_missing(ctx, *cid, s, block.status().message());
        continue;
      }
      print_block(ctx, *cid, *block, s);
      for (const auto& l : block->links) TRELLIS_TRY(enqueue(l));
    }
    return Status::ok();
  });
  if (!st) return store_error(st);
  if (!ctx.json && missing)
    error_line(fmt::format("{} of {} blocks walked are missing or corrupt", missing, printed));
  return kExitOk;
}

}  // namespace trellis::dag
