// trellis-dag history: every stored block that set or removed one key,
// newest first.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "tools/dag/args.h"
#include "tools/dag/blocks.h"
#include "tools/dag/cli.h"
#include "tools/dag/text.h"

namespace trellis::dag {

namespace {

// What one block did to the key.
struct Touch {
  Cid cid;
  uint64_t height = 0;
  BlockState state = BlockState::stuck;
  std::optional<Element> set;  // the element it added for the key
  std::string fate;            // of that element (element_fate)
  std::vector<Cid> removed;    // the key's elements it tombstoned, by block
};

// Whether `block` sets or removes `key`, and how.
std::optional<Touch> touch_of(const Txn& txn, const Dbs& d, const Cid& cid, const Block& block,
                              std::string_view key) {
  Touch t;
  t.cid = cid;
  t.height = block.delta.priority;
  for (const auto& e : block.delta.elements)
    if (e.key == key) t.set = e;
  for (const auto& tomb : block.delta.tombstones)
    if (tomb.key == key) t.removed.push_back(tomb.id);
  if (!t.set && t.removed.empty()) return std::nullopt;
  t.state = block_state(txn, d, cid);
  if (t.set) t.fate = element_fate(txn, d, cid, t.state == BlockState::merged, *t.set);
  return t;
}

void print_touch(const Context& ctx, const Touch& t) {
  if (ctx.json) {
    json j{{"cid", t.cid.to_string()}, {"height", t.height}, {"state", state_name(t.state)}};
    if (t.set) {
      put_bytes(j, "value", t.set->value);
      j["fate"] = t.fate;
      j["winner"] = t.fate == kCurrentValue;
    }
    j["removed"] = json::array();
    for (const auto& id : t.removed) j["removed"].push_back(id.to_string());
    fmt::print("{}\n", dump(j));
    return;
  }
  std::string did;
  if (t.set) did = fmt::format("set {} [{}]", value_preview(t.set->value), t.fate);
  if (!t.removed.empty()) {
    did += fmt::format("{}removed the {} set by ", did.empty() ? "" : "; ",
                       t.removed.size() == 1 ? "value" : "values");
    for (size_t i = 0; i < t.removed.size(); ++i) did += (i ? ", " : "") + t.removed[i].to_string();
  }
  std::string state =
      t.state == BlockState::merged ? "" : fmt::format(" ({})", state_name(t.state));
  fmt::print("{}  {}{}  {}\n", t.cid.to_string(), t.height, state, did);
}

}  // namespace

int cmd_history(const Context& ctx, Args args) {
  auto parsed = parse_args("history", args,
                           {.min_positional = 1, .max_positional = 1, .positional_names = "KEY"});
  if (!parsed) return kExitUsage;
  const std::string& key = parsed->positional[0];
  if (Status k = check_key(key); !k) return usage_error("history", k.message());
  auto store = open_read_only(ctx);
  if (!store) return kExitStore;
  const Dbs& d = store->dbs();
  std::vector<Touch> touches;
  uint64_t scanned = 0;
  Status st = store->read([&](const Txn& txn) {
    Cursor c(txn, d.blocks);
    for (bool ok = c.first(); ok; ok = c.next(), ++scanned) {
      // A block that names the key holds its bytes as they are: skip the
      // others without decoding them.
      ByteView bytes = c.value();
      if (!memmem(bytes.data(), bytes.size(), key.data(), key.size())) continue;
      auto cid = Cid::from_bytes(c.key());
      auto block = decode_block(bytes);
      if (!cid || !block) continue;  // verify reports it
      if (auto t = touch_of(txn, d, *cid, *block, key)) touches.push_back(std::move(*t));
    }
    return Status::ok();
  });
  if (!st) return store_error(st);
  std::sort(touches.begin(), touches.end(), [](const Touch& x, const Touch& y) {
    if (x.height != y.height) return x.height > y.height;
    return std::ranges::lexicographical_compare(x.cid.view(), y.cid.view());
  });
  if (touches.empty()) {
    error_line(fmt::format("no stored block of {} sets or removes '{}' ({} blocks scanned)",
                           ctx.store_dir, escape_text(key), scanned));
    return kExitProblems;
  }
  if (!ctx.json)
    fmt::print("{}: {} that set or removed it, newest first ({} scanned)\n", escape_text(key),
               count_of(touches.size(), "block", "blocks"),
               count_of(scanned, "stored block", "stored blocks"));
  for (const auto& t : touches) print_touch(ctx, t);
  return kExitOk;
}

}  // namespace trellis::dag
