// trellis-dag diff: heads, blocks and live keys that two stores hold
// differently, and whether their states agree.
#include <fmt/format.h>

#include <array>

#include "tools/dag/args.h"
#include "tools/dag/blocks.h"
#include "tools/dag/cli.h"
#include "tools/dag/join.h"
#include "tools/dag/store_dir.h"
#include "tools/dag/text.h"

namespace trellis::dag {

namespace {

constexpr uint64_t kListed = 100;  // entries listed per kind without --all

// One part of the report (heads, blocks or keys): its differences of each
// kind, streamed as they are found, at most kListed of each kind in human
// output unless --all; counted either way.
class Section {
 public:
  static constexpr size_t kOnlyA = 0, kOnlyB = 1, kDifferent = 2;

  Section(const Context& ctx, const char* name, bool all) : ctx_(ctx), all_(all) {
    if (!ctx_.json) fmt::print("{}:\n", name);
  }
  uint64_t count(size_t kind) const { return counts_[kind]; }
  uint64_t total() const { return counts_[0] + counts_[1] + counts_[2]; }

  // Counts a difference and calls print() when it is to be listed.
  void add(size_t kind, const std::function<void()>& print) {
    if (ctx_.json || all_ || counts_[kind] < kListed) print();
    ++counts_[kind];
  }
  // Human output: what was not listed, then the counts.
  void finish(bool with_different) {
    if (ctx_.json) return;
    static constexpr const char* kNames[] = {"only in A", "only in B", "different"};
    std::string line;
    for (size_t k = 0; k < (with_different ? 3u : 2u); ++k) {
      if (!all_ && counts_[k] > kListed)
        fmt::print("  … and {} more {} (--all lists them)\n", counts_[k] - kListed, kNames[k]);
      line += fmt::format("{}{} {}", line.empty() ? "" : ", ", counts_[k], kNames[k]);
    }
    fmt::print("  {}\n", line);
  }

 private:
  const Context& ctx_;
  bool all_;
  std::array<uint64_t, 3> counts_{};
};

const char* side_name(Side s) {
  return s == Side::a ? "A" : "B";
}

// Heads or blocks only one store holds, with their heights.
Status diff_cids(const Context& ctx, Section& sec, const char* kind, const Txn& ta, const Dbs& a,
                 const Txn& tb, const Dbs& b, MDB_dbi Dbs::*table) {
  return for_each_unmatched(ta, a.*table, tb, b.*table, [&](Side s, ByteView key, ByteView) {
    auto cid = Cid::from_bytes(key);
    if (!cid)
      return corrupt(fmt::format("store {} holds a malformed CID {}", side_name(s), to_hex(key)));
    sec.add(s == Side::a ? Section::kOnlyA : Section::kOnlyB, [&] {
      const Txn& t = s == Side::a ? ta : tb;
      const Dbs& d = s == Side::a ? a : b;
      std::optional<uint64_t> height = merged_height(t, d, *cid);
      if (!height)
        if (auto block = load_block(t, d, *cid)) height = block->delta.priority;
      if (ctx.json) {
        json j{{"diff", kind}, {"only_in", side_name(s)}, {"cid", cid->to_string()}};
        j["height"] = height ? json(*height) : json();
        fmt::print("{}\n", dump(j));
      } else {
        fmt::print("  {}  {}  {}\n", side_name(s), cid->to_string(),
                   height ? std::to_string(*height) : "?");
      }
    });
    return Status::ok();
  });
}

void print_key(const Context& ctx, const KeyDiff& k) {
  if (ctx.json) {
    json j{{"diff", "key"}};
    put_bytes(j, "key", as_bytes(k.key));
    if (k.a && k.b) {
      put_bytes(j, "value_a", k.a->value());
      put_bytes(j, "value_b", k.b->value());
    } else {
      j["only_in"] = k.a ? "A" : "B";
      put_bytes(j, "value", (k.a ? k.a : k.b)->value());
    }
    fmt::print("{}\n", dump(j));
  } else if (k.a && k.b) {
    fmt::print("  ≠  {}: A {}, B {}\n", escape_text(k.key), value_preview(k.a->value()),
               value_preview(k.b->value()));
  } else {
    fmt::print("  {}  {} = {}\n", k.a ? "A" : "B", escape_text(k.key),
               value_preview((k.a ? k.a : k.b)->value()));
  }
}

}  // namespace

int cmd_diff(const Context& ctx, Args args) {
  auto parsed = parse_args("diff", args,
                           {.flags = {"--all"},
                            .min_positional = 1,
                            .max_positional = 1,
                            .positional_names = "STORE_B"});
  if (!parsed) return kExitUsage;
  const bool all = parsed->has("--all");
  Context other = ctx;
  other.store_dir = locate_store(parsed->positional[0]).store;
  auto store_a = open_read_only(ctx);
  if (!store_a) return kExitStore;
  auto store_b = open_read_only(other);
  if (!store_b) return kExitStore;
  const Dbs& a = store_a->dbs();
  const Dbs& b = store_b->dbs();
  if (!ctx.json) fmt::print("A: {}\nB: {}\n", ctx.store_dir, other.store_dir);

  json summary{{"diff", "summary"}, {"a", ctx.store_dir}, {"b", other.store_dir}};
  uint64_t keys_differ = 0, keys_same = 0;
  bool heads_equal = false;
  Status st = store_a->read([&](const Txn& ta) {
    return store_b->read([&](const Txn& tb) {
      Section heads(ctx, "heads", all);
      TRELLIS_TRY(diff_cids(ctx, heads, "head", ta, a, tb, b, &Dbs::heads));
      heads.finish(false);
      Section blocks(ctx, "blocks", all);
      TRELLIS_TRY(diff_cids(ctx, blocks, "block", ta, a, tb, b, &Dbs::blocks));
      blocks.finish(false);
      Section keys(ctx, "keys", all);
      auto same = for_each_key_diff(ta, a, tb, b, [&](const KeyDiff& k) {
        size_t kind = k.a && k.b ? Section::kDifferent : k.a ? Section::kOnlyA : Section::kOnlyB;
        keys.add(kind, [&] { print_key(ctx, k); });
        return Status::ok();
      });
      if (!same) return same.status();
      keys.finish(true);
      keys_differ = keys.total();
      keys_same = *same;
      heads_equal = heads.total() == 0;
      summary["heads_only_in_a"] = heads.count(Section::kOnlyA);
      summary["heads_only_in_b"] = heads.count(Section::kOnlyB);
      summary["blocks_only_in_a"] = blocks.count(Section::kOnlyA);
      summary["blocks_only_in_b"] = blocks.count(Section::kOnlyB);
      summary["keys_only_in_a"] = keys.count(Section::kOnlyA);
      summary["keys_only_in_b"] = keys.count(Section::kOnlyB);
      summary["keys_different"] = keys.count(Section::kDifferent);
      summary["keys_same"] = keys_same;
      return Status::ok();
    });
  });
  if (!st) return store_error(st);
  const bool states_equal = keys_differ == 0;
  summary["states_equal"] = states_equal;
  summary["heads_equal"] = heads_equal;
  if (ctx.json) {
    fmt::print("{}\n", dump(summary));
  } else {
    fmt::print("{}; {}\n",
               states_equal
                   ? fmt::format("equal: the same {} and values",
                                 count_of(keys_same, "live key", "live keys"))
                   : fmt::format("states differ: {}", count_of(keys_differ, "key", "keys")),
               heads_equal ? "same heads" : "heads differ");
  }
  return states_equal ? kExitOk : kExitProblems;
}

}  // namespace trellis::dag
