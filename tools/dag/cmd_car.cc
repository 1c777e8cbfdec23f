// trellis-dag export, import: CARv1 archives of the merged blocks.
#include <fmt/format.h>

#include <chrono>
#include <filesystem>

#include "crdt/car.h"
#include "crdt/replica.h"
#include "tools/dag/args.h"
#include "tools/dag/cli.h"
#include "tools/dag/order.h"
#include "tools/dag/text.h"

namespace trellis::dag {

namespace {

constexpr size_t kBatchBlocks = 1000;
constexpr size_t kBatchBytes = size_t{64} << 20;
constexpr auto kProgressEvery = std::chrono::seconds(1);

}  // namespace

int cmd_export(const Context& ctx, Args args) {
  auto parsed = parse_args("export", args,
                           {.min_positional = 1, .max_positional = 1, .positional_names = "FILE"});
  if (!parsed) return kExitUsage;
  const std::string& path = parsed->positional[0];
  auto store = open_read_only(ctx);
  if (!store) return kExitStore;
  const Dbs& d = store->dbs();
  std::vector<Cid> roots;
  uint64_t lost = 0;
  std::optional<CarWriter> writer;
  Status st = store->read([&](const Txn& txn) {
    Cursor h(txn, d.heads);
    for (bool ok = h.first(); ok; ok = h.next()) {
      auto cid = Cid::from_bytes(h.key());
      if (!cid) return corrupt("heads holds a malformed CID " + to_hex(h.key()) + " (run verify)");
      roots.push_back(std::move(*cid));
    }
    auto w = CarWriter::create(path, roots);
    if (!w) return Status(w.status().code(), "cannot write " + path + ": " + w.status().message());
    writer.emplace(std::move(*w));
    TRELLIS_TRY(
        for_each_merged_by_height(txn, d, [&](const Cid& cid, std::optional<ByteView> bytes) {
          if (!bytes) {
            if (lost++ == 0)
              error_line("merged block " + cid.to_string() +
                         " is not stored; the archive will lack it (run verify)");
            return Status::ok();
          }
          Status added = writer->add(cid, *bytes);
          if (!added) return Status(added.code(), "writing " + path + ": " + added.message());
          return Status::ok();
        }));
    Status done = writer->finish();
    if (!done) return Status(done.code(), "finishing " + path + ": " + done.message());
    return Status::ok();
  });
  if (!st) return store_error(st);
  if (ctx.json) {
    fmt::print("{}\n", dump(json{{"file", path},
                                 {"roots", roots.size()},
                                 {"blocks", writer->blocks_written()},
                                 {"bytes", writer->bytes_written()},
                                 {"missing", lost}}));
  } else {
    fmt::print("exported {} merged blocks ({} bytes) to {}; roots: {} heads\n",
               writer->blocks_written(), writer->bytes_written(), path, roots.size());
  }
  if (lost) {
    error_line(fmt::format("{} merged blocks were not stored and are missing from {}", lost, path));
    return kExitProblems;
  }
  return kExitOk;
}

int cmd_import(const Context& ctx, Args args) {
  auto parsed = parse_args("import", args,
                           {.min_positional = 1, .max_positional = 1, .positional_names = "FILE"});
  if (!parsed) return kExitUsage;
  const std::string& path = parsed->positional[0];
  auto reader = CarReader::open(path);
  if (!reader) {
    error_line("cannot read " + path + ": " + reader.status().to_string());
    return kExitStore;
  }
  std::error_code ec;
  const uint64_t file_size = std::filesystem::file_size(path, ec);
  const bool fresh = !std::filesystem::exists(ctx.store_dir + "/data.mdb", ec);

  auto opened = Replica::open(ctx.store_dir, ReplicaOptions{});
  if (!opened) {
    const Status& s = opened.status();
    if (s.code() == Code::busy)
      error_line(s.message() + " — stop the daemon (trellisd) using " + ctx.store_dir +
                 " before importing, or import into another directory");
    else
      error_line("cannot open store " + ctx.store_dir + " for writing: " + s.to_string());
    return kExitStore;
  }
  std::unique_ptr<Replica> rep = std::move(*opened);
  if (fresh && !ctx.json) error_line("created a new store at " + ctx.store_dir);

  uint64_t read = 0, stored = 0, merged = 0, duplicates = 0, rejected = 0;
  std::vector<std::string> rejections;  // the first few, for the report
  auto last_progress = std::chrono::steady_clock::now();
  bool progress_shown = false;
  std::vector<IncomingBlock> batch;
  size_t batch_bytes = 0;

  auto flush = [&]() -> Status {
    if (batch.empty()) return Status::ok();
    auto res = rep->on_blocks(batch, Accept::any);
    if (!res) return res.status();
    stored += res->stored;
    merged += res->merged;
    duplicates += res->duplicates;
    rejected += res->rejected.size();
    for (auto& r : res->rejected)
      if (rejections.size() < 20) rejections.push_back(std::move(r));
    batch.clear();
    batch_bytes = 0;
    auto now = std::chrono::steady_clock::now();
    if (now - last_progress >= kProgressEvery) {
      last_progress = now;
      progress_shown = true;
      fmt::print(
          stderr, "import: {} blocks read ({:.0f}%), {} stored, {} merged\n", read,
          file_size ? 100.0 * static_cast<double>(reader->offset()) / static_cast<double>(file_size)
                    : 0.0,
          stored, merged);
    }
    return Status::ok();
  };

  Status st;
  for (;;) {
    Cid cid;
    Bytes bytes;
    auto more = reader->next(&cid, &bytes);
    if (!more) {
      st = Status(more.status().code(), fmt::format("{} at byte {}: {}", path, reader->offset(),
                                                    more.status().message()));
      break;
    }
    if (!*more) break;
    ++read;
    batch_bytes += bytes.size();
    batch.push_back({std::move(cid), std::move(bytes)});
    if (batch.size() >= kBatchBlocks || batch_bytes >= kBatchBytes) {
      st = flush();
      if (!st) break;
    }
  }
  // Whatever was read before a damaged section is still worth keeping.
  if (Status f = flush(); st.is_ok()) st = f;
  if (progress_shown) fmt::print(stderr, "import: done\n");

  // Roots that did not end up merged: their history is incomplete.
  std::vector<std::string> unmerged_roots;
  Status rs = rep->store().read([&](const Txn& txn) {
    for (const auto& r : reader->roots())
      if (!txn.has(rep->store().dbs().merged, r.view())) unmerged_roots.push_back(r.to_string());
    return Status::ok();
  });
  if (st.is_ok()) st = rs;

  for (const auto& r : rejections) error_line("rejected " + r);
  if (rejected > rejections.size())
    error_line(fmt::format("… and {} more rejected", rejected - rejections.size()));
  for (const auto& r : unmerged_roots)
    error_line("root " + r + " is not merged: the archive lacks part of its history");

  if (ctx.json) {
    json j{{"file", path},
           {"store", ctx.store_dir},
           {"read", read},
           {"stored", stored},
           {"merged", merged},
           {"duplicates", duplicates},
           {"rejected", rejected},
           {"roots", reader->roots().size()},
           {"unmerged_roots", unmerged_roots}};
    if (!st) j["error"] = st.to_string();
    fmt::print("{}\n", dump(j));
  } else {
    fmt::print(
        "imported {}: {} blocks read, {} stored, {} merged, {} already present, {} "
        "rejected; {} of {} roots merged\n",
        path, read, stored, merged, duplicates, rejected,
        reader->roots().size() - unmerged_roots.size(), reader->roots().size());
  }
  if (!st) return store_error(st);
  return rejected || !unmerged_roots.empty() ? kExitProblems : kExitOk;
}

}  // namespace trellis::dag
