// crdt-ingest: durable batched puts through Replica::commit, against raw
// LMDB puts of the same keys and values in transactions of the same size.
#include <fmt/format.h>

#include <algorithm>

#include "crdt/replica.h"
#include "tools/bench/baseline.h"
#include "tools/bench/benchmarks.h"

namespace trellis::bench {

namespace {

// One batch of generated keys and values (generation is not timed).
struct BatchData {
  std::vector<std::string> keys;
  Bytes values;  // keys.size() × kValueBytes
  std::vector<KeyValue> kvs;

  void fill(const DataGen& gen, uint64_t first, size_t count) {
    keys.clear();
    values.resize(count * kValueBytes);
    kvs.clear();
    for (size_t j = 0; j < count; ++j) {
      keys.push_back(gen.key(first + j));
      gen.value(first + j, values.data() + j * kValueBytes);
    }
    for (size_t j = 0; j < count; ++j)
      kvs.push_back({as_bytes(keys[j]), ByteView(values).subspan(j * kValueBytes, kValueBytes)});
  }
};

struct Side {
  double seconds = 0;
  double peak_rss_mb = 0;
  double store_mb = 0;
  double written_mb = 0;  // handed to write(2) while timed
  size_t blocks = 0;      // Trellis only
};

Result<Side> ingest_trellis(const Options& o, size_t n, const WorkDir& work, size_t run) {
  DataGen gen(o.seed);
  BatchData data;
  std::string dir = work.fresh(fmt::format("ingest-trellis-{}", run));
  Side side;
  reset_peak_rss();
  {
    ReplicaOptions ro;
    ro.sync = o.sync;
    auto rep = Replica::open(dir, ro);
    if (!rep) return rep.status();
    Stopwatch sw;
    uint64_t written = 0;
    for (size_t i = 0; i < n; i += o.batch) {
      data.fill(gen, i, std::min(o.batch, n - i));
      uint64_t w0 = bytes_written();
      sw.start();
      {
        Batch b;
        for (const auto& kv : data.kvs) TRELLIS_TRY(b.put(as_chars(kv.key), kv.value));
        auto cid = (*rep)->commit(b);
        if (!cid) return cid.status();
      }
      sw.stop();
      written += bytes_written() - w0;
    }
    side.seconds = sw.seconds();
    side.written_mb = static_cast<double>(written) / (1024.0 * 1024.0);
    auto info = (*rep)->info();
    if (!info) return info.status();
    if (info->elements != n)
      return Status(Code::corrupt,
                    fmt::format("replica holds {} elements after {} puts", info->elements, n));
    side.blocks = info->blocks;
  }
  side.peak_rss_mb = peak_rss_mb();
  side.store_mb = store_mb(dir);
  work.drop(dir);
  return side;
}

Result<Side> ingest_raw(const Options& o, size_t n, const WorkDir& work, size_t run) {
  DataGen gen(o.seed);
  BatchData data;
  std::string dir = work.fresh(fmt::format("ingest-raw-{}", run));
  Side side;
  reset_peak_rss();
  {
    auto db = RawLmdb::open(dir, o.sync);
    if (!db) return db.status();
    Stopwatch sw;
    uint64_t written = 0;
    for (size_t i = 0; i < n; i += o.batch) {
      data.fill(gen, i, std::min(o.batch, n - i));
      uint64_t w0 = bytes_written();
      sw.start();
      TRELLIS_TRY((*db)->put_batch(data.kvs));
      sw.stop();
      written += bytes_written() - w0;
    }
    side.seconds = sw.seconds();
    side.written_mb = static_cast<double>(written) / (1024.0 * 1024.0);
  }
  side.peak_rss_mb = peak_rss_mb();
  side.store_mb = store_mb(dir);
  work.drop(dir);
  return side;
}

}  // namespace

Result<BenchResult> run_ingest(const Options& o, const WorkDir& work) {
  const size_t n = o.keys ? o.keys : kDefaultIngestKeys;
  std::vector<double> values, baselines, seconds, baseline_seconds;
  double rss = 0, baseline_rss = 0;
  Side last, last_raw;
  for (size_t r = 0; r < o.runs; ++r) {
    // Alternate which side goes first so neither always meets a warmer or
    // busier disk.
    Result<Side> t = Status(Code::not_found, "");
    Result<Side> b = Status(Code::not_found, "");
    if (r % 2 == 0) {
      t = ingest_trellis(o, n, work, r);
      if (!t) return t.status();
      b = ingest_raw(o, n, work, r);
    } else {
      b = ingest_raw(o, n, work, r);
      if (!b) return b.status();
      t = ingest_trellis(o, n, work, r);
    }
    if (!t) return t.status();
    if (!b) return b.status();
    values.push_back(static_cast<double>(n) / t->seconds);
    baselines.push_back(static_cast<double>(n) / b->seconds);
    seconds.push_back(t->seconds);
    baseline_seconds.push_back(b->seconds);
    rss = std::max(rss, t->peak_rss_mb);
    baseline_rss = std::max(baseline_rss, b->peak_rss_mb);
    last = *t;
    last_raw = *b;
  }
  BenchResult res;
  res.name = "crdt-ingest";
  res.unit = "keys/s";
  res.value = median(values);
  res.baseline = median(baselines);
  res.peak_rss_mb = rss;
  res.target_value = 100'000;
  res.target_ratio = 0.30;
  res.run_values = values;
  res.run_baselines = baselines;
  auto& d = res.detail;
  d["keys"] = n;
  d["batch"] = o.batch;
  d["value_bytes"] = kValueBytes;
  d["key_bytes"] = DataGen(o.seed).key(0).size();
  d["sync"] = o.sync;
  d["run_seconds"] = seconds;
  d["run_baseline_seconds"] = baseline_seconds;
  d["blocks"] = last.blocks;
  d["store_mb"] = last.store_mb;
  d["baseline_store_mb"] = last_raw.store_mb;
  d["written_mb"] = last.written_mb;
  d["baseline_written_mb"] = last_raw.written_mb;
  d["baseline_peak_rss_mb"] = baseline_rss;
  d["process_peak_rss_mb"] = process_peak_rss_mb();
  d["seed"] = o.seed;
  res.extra = fmt::format(
      "{} keys ({} B) × {} B values, batch {}, {}, {} blocks; store {:.0f} MB vs "
      "raw {:.0f} MB; wrote {:.0f} MB vs raw {:.0f} MB; baseline peak RSS {:.0f} MB",
      grouped(static_cast<double>(n)), d["key_bytes"].get<size_t>(), kValueBytes,
      grouped(static_cast<double>(o.batch)), o.sync ? "fsync per commit" : "NO fsync", last.blocks,
      last.store_mb, last_raw.store_mb, last.written_mb, last_raw.written_mb, baseline_rss);
  return res;
}

}  // namespace trellis::bench
