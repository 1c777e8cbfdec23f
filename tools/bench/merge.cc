// crdt-merge: replaying a DAG of ≥100k blocks into an empty replica the way
// the sync protocol delivers it (heads announced, then blocks newest-first in
// breadth-first order from the heads, ~1000 per on_blocks call), against raw
// LMDB puts of the same CID → bytes pairs in transactions of the same size.
//
// The source DAG comes from two replicas writing small batches (1–5 puts,
// overwrites and removes) and exchanging blocks every few dozen commits, so
// it has forks and multi-parent merges rather than a single chain.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <unordered_map>

#include "crdt/replica.h"
#include "tools/bench/baseline.h"
#include "tools/bench/benchmarks.h"

namespace trellis::bench {

namespace {

using State = std::vector<std::pair<std::string, Bytes>>;

struct SourceBlock {
  IncomingBlock block;
  uint64_t height = 0;
};

struct SourceDag {
  std::vector<SourceBlock> bfs;      // newest-first: breadth-first from the heads
  std::vector<size_t> oldest_first;  // indexes into bfs, by height
  std::vector<Cid> heads;            // sorted
  State state;                       // scan("") of the source
  size_t forks = 0;                  // blocks with more than one link
  size_t roots = 0;                  // blocks with no links
  uint64_t max_height = 0;
  size_t puts = 0, overwrites = 0, removes = 0, exchanges = 0;
  double build_seconds = 0;
  double bytes_mb = 0;
};

Result<State> scan_all(const Replica& r) {
  State s;
  TRELLIS_TRY(r.scan("", [&](std::string_view k, ByteView v) {
    s.emplace_back(std::string(k), Bytes(v.begin(), v.end()));
    return true;
  }));
  return s;
}

Result<std::vector<Cid>> sorted_heads(const Replica& r) {
  auto h = r.heads();
  if (!h) return h.status();
  std::sort(h->begin(), h->end());
  return h;
}

// Sends `cids` (stored in `from`) to `to` as a local import.
Status exchange(Replica& from, Replica& to, std::vector<Cid>& cids) {
  std::vector<IncomingBlock> in;
  in.reserve(cids.size());
  TRELLIS_TRY(from.store().read([&](const Txn& txn) {
    for (auto& c : cids) {
      auto bytes = txn.get(from.store().dbs().blocks, c.view());
      if (!bytes) return Status(Code::not_found, "source block " + c.to_string() + " missing");
      in.push_back({std::move(c), Bytes(bytes->begin(), bytes->end())});
    }
    return Status::ok();
  }));
  cids.clear();
  auto res = to.on_blocks(in, Accept::any);
  if (!res) return res.status();
  if (!res->rejected.empty()) return Status(Code::corrupt, "exchange: " + res->rejected.front());
  if (res->merged != in.size())
    return Status(Code::corrupt,
                  fmt::format("exchange merged {} of {} blocks", res->merged, in.size()));
  return Status::ok();
}

// Writes the source DAG with two replicas (no fsync: setup, not timed).
Result<SourceDag> build_source(const Options& o, const WorkDir& work) {
  SourceDag dag;
  Stopwatch sw;
  sw.start();
  ReplicaOptions ro;
  ro.sync = false;
  std::string dir_a = work.fresh("merge-source-a"), dir_b = work.fresh("merge-source-b");
  auto a = Replica::open(dir_a, ro);
  if (!a) return a.status();
  auto b = Replica::open(dir_b, ro);
  if (!b) return b.status();
  Replica* sides[2] = {a->get(), b->get()};
  std::vector<Cid> fresh[2];

  DataGen gen(o.seed);
  Rng rng(o.seed * 0x2545f4914f6cdd1dULL + 7);
  std::vector<std::string> pool;  // keys put so far and not removed
  uint64_t next_key = 0, next_value = 0;
  size_t blocks = 0;
  while (blocks < o.blocks) {
    // Both sides write in every round (so the DAG forks and ends with two
    // heads); the last round may overshoot the target a little.
    for (int s = 0; s < 2; ++s) {
      // A run of 1–60 local commits before the next exchange.
      size_t commits = 1 + rng.below(60);
      for (size_t c = 0; c < commits; ++c) {
        Batch batch;
        size_t ops = 1 + rng.below(5);
        for (size_t k = 0; k < ops; ++k) {
          uint64_t dice = rng.below(100);
          if (pool.empty() || dice < 70) {
            pool.push_back(gen.key(next_key++));
            TRELLIS_TRY(batch.put(pool.back(), gen.value(next_value++, 1)));
            ++dag.puts;
          } else if (dice < 90) {
            TRELLIS_TRY(batch.put(pool[rng.below(pool.size())], gen.value(next_value++, 1)));
            ++dag.overwrites;
          } else {
            size_t i = rng.below(pool.size());
            TRELLIS_TRY(batch.remove(pool[i]));
            std::swap(pool[i], pool.back());
            pool.pop_back();
            ++dag.removes;
          }
        }
        auto cid = sides[s]->commit(batch);
        if (!cid) return cid.status();
        if (cid->empty()) continue;  // removes of keys this side never saw
        fresh[s].push_back(std::move(*cid));
        ++blocks;
      }
    }
    TRELLIS_TRY(exchange(*sides[0], *sides[1], fresh[0]));
    TRELLIS_TRY(exchange(*sides[1], *sides[0], fresh[1]));
    ++dag.exchanges;
  }

  // Load every block of the source and order it.
  Replica& src = *sides[0];
  auto heads = sorted_heads(src);
  if (!heads) return heads.status();
  dag.heads = *heads;
  auto state = scan_all(src);
  if (!state) return state.status();
  dag.state = std::move(*state);

  std::unordered_map<Cid, size_t, CidHash> index;
  std::vector<SourceBlock> all;
  std::vector<std::vector<Cid>> links;
  size_t total_bytes = 0;
  TRELLIS_TRY(src.store().read([&](const Txn& txn) {
    Cursor c(txn, src.store().dbs().blocks);
    for (bool ok = c.first(); ok; ok = c.next()) {
      auto cid = Cid::from_bytes(c.key());
      if (!cid) return cid.status();
      auto block = decode_block(c.value());
      if (!block) return block.status();
      index.emplace(*cid, all.size());
      total_bytes += c.value().size();
      all.push_back(
          {{std::move(*cid), Bytes(c.value().begin(), c.value().end())}, block->delta.priority});
      links.push_back(std::move(block->links));
    }
    return Status::ok();
  }));
  dag.bytes_mb = static_cast<double>(total_bytes) / (1024.0 * 1024.0);

  std::vector<bool> seen(all.size(), false);
  std::deque<size_t> queue;
  std::vector<size_t> order;
  for (const auto& h : dag.heads) {
    auto it = index.find(h);
    if (it == index.end()) return Status(Code::corrupt, "source head is not stored");
    if (!seen[it->second]) {
      seen[it->second] = true;
      queue.push_back(it->second);
    }
  }
  while (!queue.empty()) {
    size_t i = queue.front();
    queue.pop_front();
    order.push_back(i);
    if (links[i].size() > 1) ++dag.forks;
    if (links[i].empty()) ++dag.roots;
    dag.max_height = std::max(dag.max_height, all[i].height);
    for (const auto& l : links[i]) {
      auto it = index.find(l);
      if (it == index.end()) return Status(Code::corrupt, "source block links a missing block");
      if (!seen[it->second]) {
        seen[it->second] = true;
        queue.push_back(it->second);
      }
    }
  }
  if (order.size() != all.size())
    return Status(Code::corrupt, fmt::format("{} of the source's {} blocks are unreachable from "
                                             "its heads",
                                             all.size() - order.size(), all.size()));
  dag.bfs.reserve(all.size());
  for (size_t i : order) dag.bfs.push_back(std::move(all[i]));
  dag.oldest_first.resize(dag.bfs.size());
  for (size_t i = 0; i < dag.oldest_first.size(); ++i) dag.oldest_first[i] = i;
  std::stable_sort(dag.oldest_first.begin(), dag.oldest_first.end(),
                   [&](size_t x, size_t y) { return dag.bfs[x].height < dag.bfs[y].height; });
  sw.stop();
  dag.build_seconds = sw.seconds();
  a->reset();
  b->reset();
  work.drop(dir_a);
  work.drop(dir_b);
  return dag;
}

struct Replay {
  double seconds = 0;
  double peak_rss_mb = 0;
  double start_rss_mb = 0;
  double written_mb = 0;     // handed to write(2) while timed
  double merge_seconds = 0;  // newest-first: the call that merged the cascade
  size_t calls = 0;
};

// Replays the source into an empty durable replica and checks the result.
// newest_first: announce the heads, then feed blocks breadth-first as the
// sync protocol would (Accept::wanted); otherwise feed them by height as a
// CAR import would (Accept::any).
Result<Replay> replay(const Options& o, const SourceDag& dag, const WorkDir& work, size_t run,
                      bool newest_first) {
  std::string dir = work.fresh(fmt::format("merge-{}-{}", newest_first ? "newest" : "oldest", run));
  Replay out;
  reset_peak_rss();
  out.start_rss_mb = current_rss_mb();
  {
    ReplicaOptions ro;
    ro.sync = o.sync;
    if (o.merge_budget) ro.merge_budget = o.merge_budget;
    auto rep = Replica::open(dir, ro);
    if (!rep) return rep.status();
    Stopwatch sw;
    uint64_t w0 = bytes_written();
    if (newest_first) {
      sw.start();
      auto wants = (*rep)->on_heads("source", dag.heads);
      sw.stop();
      if (!wants) return wants.status();
      if (wants->size() != dag.heads.size())
        return Status(Code::corrupt, "an empty replica did not want every announced head");
    }
    std::vector<IncomingBlock> chunk;
    size_t stored = 0, merged = 0;
    const size_t n = dag.bfs.size();
    for (size_t i = 0; i < n; i += o.feed) {
      chunk.clear();
      for (size_t j = i; j < std::min(n, i + o.feed); ++j)
        chunk.push_back(dag.bfs[newest_first ? j : dag.oldest_first[j]].block);
      Stopwatch call;
      call.start();
      sw.start();
      auto res = (*rep)->on_blocks(chunk, newest_first ? Accept::wanted : Accept::any);
      sw.stop();
      call.stop();
      ++out.calls;
      if (!res) return res.status();
      if (res->merged > n / 2) out.merge_seconds += call.seconds();
      if (!res->rejected.empty())
        return Status(Code::corrupt, "replay rejected a block: " + res->rejected.front());
      stored += res->stored;
      merged += res->merged;
    }
    out.seconds = sw.seconds();
    out.written_mb = static_cast<double>(bytes_written() - w0) / (1024.0 * 1024.0);
    out.peak_rss_mb = peak_rss_mb();

    // Verify (not timed): same heads, same state, nothing left over.
    if (stored != n || merged != n)
      return Status(Code::corrupt,
                    fmt::format("replay stored {} and merged {} of {} blocks", stored, merged, n));
    auto info = (*rep)->info();
    if (!info) return info.status();
    if (info->blocks != n || info->merged != n || info->pending || info->wants || info->ready)
      return Status(
          Code::corrupt,
          fmt::format("after replay: {} blocks, {} merged, {} pending, {} wants, {} "
                      "ready (expected {} blocks, all merged)",
                      info->blocks, info->merged, info->pending, info->wants, info->ready, n));
    auto heads = sorted_heads(**rep);
    if (!heads) return heads.status();
    if (*heads != dag.heads)
      return Status(Code::corrupt, fmt::format("after replay the target has {} heads, the "
                                               "source {}, and they differ",
                                               heads->size(), dag.heads.size()));
    auto state = scan_all(**rep);
    if (!state) return state.status();
    if (*state != dag.state)
      return Status(Code::corrupt, fmt::format("after replay scan(\"\") differs: {} keys on the "
                                               "target, {} on the source",
                                               state->size(), dag.state.size()));
  }
  work.drop(dir);
  return out;
}

Result<Replay> replay_raw(const Options& o, const SourceDag& dag, const WorkDir& work, size_t run) {
  std::string dir = work.fresh(fmt::format("merge-raw-{}", run));
  Replay out;
  reset_peak_rss();
  out.start_rss_mb = current_rss_mb();
  {
    auto db = RawLmdb::open(dir, o.sync);
    if (!db) return db.status();
    std::vector<KeyValue> kvs;
    Stopwatch sw;
    uint64_t w0 = bytes_written();
    const size_t n = dag.bfs.size();
    for (size_t i = 0; i < n; i += o.feed) {
      kvs.clear();
      for (size_t j = i; j < std::min(n, i + o.feed); ++j)
        kvs.push_back({dag.bfs[j].block.cid.view(), dag.bfs[j].block.bytes});
      sw.start();
      TRELLIS_TRY((*db)->put_batch(kvs));
      sw.stop();
      ++out.calls;
    }
    out.seconds = sw.seconds();
    out.written_mb = static_cast<double>(bytes_written() - w0) / (1024.0 * 1024.0);
    out.peak_rss_mb = peak_rss_mb();
  }
  work.drop(dir);
  return out;
}

}  // namespace

Result<BenchResult> run_merge(const Options& o, const WorkDir& work) {
  std::fprintf(stderr, "crdt-merge: building a source DAG of %zu blocks (setup, not timed)...\n",
               o.blocks);
  auto dag = build_source(o, work);
  if (!dag) return dag.status();
  const double n = static_cast<double>(dag->bfs.size());
  std::vector<double> values, baselines, oldest;
  double rss = 0, baseline_rss = 0, oldest_rss = 0, start_rss = 0;
  double written = 0, baseline_written = 0, oldest_written = 0, cascade = 0;
  size_t calls = 0;
  for (size_t r = 0; r < o.runs; ++r) {
    auto t = replay(o, *dag, work, r, /*newest_first=*/true);
    if (!t) return t.status();
    values.push_back(n / t->seconds);
    rss = std::max(rss, t->peak_rss_mb);
    start_rss = t->start_rss_mb;
    calls = t->calls;
    written = t->written_mb;
    cascade = t->merge_seconds / t->seconds;
    if (o.oldest_first) {
      auto t2 = replay(o, *dag, work, r, /*newest_first=*/false);
      if (!t2) return t2.status();
      oldest.push_back(n / t2->seconds);
      oldest_rss = std::max(oldest_rss, t2->peak_rss_mb);
      oldest_written = t2->written_mb;
    }
    auto b = replay_raw(o, *dag, work, r);
    if (!b) return b.status();
    baselines.push_back(n / b->seconds);
    baseline_rss = std::max(baseline_rss, b->peak_rss_mb);
    baseline_written = b->written_mb;
  }
  BenchResult res;
  res.name = "crdt-merge";
  res.unit = "blocks/s";
  res.value = median(values);
  res.baseline = median(baselines);
  res.peak_rss_mb = rss;
  res.target_value = 20'000;
  res.run_values = values;
  res.run_baselines = baselines;
  auto& d = res.detail;
  d["blocks"] = dag->bfs.size();
  d["order"] = "newest-first (on_heads, then breadth-first from the heads)";
  d["feed"] = o.feed;
  d["on_blocks_calls"] = calls;
  d["merge_budget"] = o.merge_budget ? o.merge_budget : ReplicaOptions{}.merge_budget;
  d["cascade_share"] = cascade;  // of the newest-first time: the call that merged
  d["written_mb"] = written;
  d["baseline_written_mb"] = baseline_written;
  d["sync"] = o.sync;
  if (o.oldest_first) {
    d["oldest_first_value"] = median(oldest);
    d["oldest_first_ratio"] = median(oldest) / res.baseline;
    d["oldest_first_run_values"] = oldest;
    d["oldest_first_peak_rss_mb"] = oldest_rss;
    d["oldest_first_written_mb"] = oldest_written;
  }
  d["source_heads"] = dag->heads.size();
  d["source_roots"] = dag->roots;
  d["source_max_height"] = dag->max_height;
  d["source_merge_blocks"] = dag->forks;
  d["source_exchanges"] = dag->exchanges;
  d["source_puts"] = dag->puts;
  d["source_overwrites"] = dag->overwrites;
  d["source_removes"] = dag->removes;
  d["source_live_keys"] = dag->state.size();
  d["source_block_mb"] = dag->bytes_mb;
  d["source_build_seconds"] = dag->build_seconds;
  d["rss_at_start_mb"] = start_rss;
  d["baseline_peak_rss_mb"] = baseline_rss;
  d["process_peak_rss_mb"] = process_peak_rss_mb();
  d["seed"] = o.seed;
  res.extra = fmt::format(
      "{} blocks ({:.1f} MB, {} heads, {} merge blocks, height {}), newest-first in {} "
      "on_blocks calls of {}, {} ({:.0f}% of the time in the call that merged "
      "the cascade); wrote {:.0f} MB vs raw {:.0f} MB; RSS at start {:.0f} MB (the source DAG), "
      "baseline peak RSS {:.0f} MB; source built in {:.0f} s",
      grouped(n), dag->bytes_mb, dag->heads.size(), dag->forks, dag->max_height, calls,
      grouped(static_cast<double>(o.feed)), o.sync ? "fsync per transaction" : "NO fsync",
      cascade * 100, written, baseline_written, start_rss, baseline_rss, dag->build_seconds);
  if (o.oldest_first)
    res.extra += fmt::format(
        "\n  oldest-first (by height, Accept::any): {} blocks/s (ratio {:.2f}), wrote "
        "{:.0f} MB",
        grouped(median(oldest)), median(oldest) / res.baseline, oldest_written);
  return res;
}

}  // namespace trellis::bench
