// trellis-dag keys, get: the live key → value map.
#include <fmt/format.h>

#include <cstdio>

#include "crdt/block.h"
#include "crdt/merger.h"
#include "tools/dag/args.h"
#include "tools/dag/cli.h"
#include "tools/dag/live.h"
#include "tools/dag/text.h"

namespace trellis::dag {

int cmd_keys(const Context& ctx, Args args) {
  auto parsed = parse_args("keys", args, {.max_positional = 1});
  if (!parsed) return kExitUsage;
  std::string prefix = parsed->positional.empty() ? "" : parsed->positional[0];
  auto store = open_read_only(ctx);
  if (!store) return kExitStore;
  Status st = store->read([&](const Txn& txn) {
    LiveKeys live(txn, store->dbs(), prefix);
    for (; live.valid(); live.next()) {
      if (ctx.json) {
        json j;
        put_bytes(j, "key", as_bytes(live.key()));
        put_bytes(j, "value", live.value());
        fmt::print("{}\n", dump(j));
      } else {
        fmt::print("{}\n", escape_text(live.key()));
      }
    }
    return live.status();
  });
  if (!st) return store_error(st);
  return kExitOk;
}

int cmd_get(const Context& ctx, Args args) {
  auto parsed = parse_args("get", args,
                           {.min_positional = 1, .max_positional = 1, .positional_names = "KEY"});
  if (!parsed) return kExitUsage;
  const std::string& key = parsed->positional[0];
  if (Status k = check_key(key); !k) return usage_error("get", k.message());
  auto store = open_read_only(ctx);
  if (!store) return kExitStore;
  int rc = kExitOk;
  Status st = store->read([&](const Txn& txn) {
    auto w = find_winner(txn, store->dbs(), key);
    if (!w) {
      error_line(fmt::format("key '{}' has no live value in {}", escape_text(key), ctx.store_dir));
      rc = kExitProblems;
      return Status::ok();
    }
    if (ctx.json) {
      json j;
      put_bytes(j, "key", as_bytes(key));
      put_bytes(j, "value", w->value);
      j["priority"] = w->priority;
      fmt::print("{}\n", dump(j));
      return Status::ok();
    }
    if (!w->value.empty() &&
        std::fwrite(w->value.data(), 1, w->value.size(), stdout) != w->value.size())
      return Status(Code::io_error, "cannot write the value to stdout");
    return Status::ok();
  });
  if (!st) return store_error(st);
  return rc;
}

}  // namespace trellis::dag
