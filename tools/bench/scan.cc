// crdt-scan: Replica::scan over a replica of N keys, against a raw LMDB
// cursor walk over a database of the same keys and values.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>

#include "crdt/replica.h"
#include "tools/bench/baseline.h"
#include "tools/bench/benchmarks.h"

namespace trellis::bench {

namespace {

// Keys starting "/pins/a": about 1/32 of them.
constexpr std::string_view kPrefix = "/pins/a";

// Setup (not timed): fills the replica and the baseline database with the
// same keys, without fsync.
Status fill(const Options& o, size_t n, Replica& rep, RawLmdb& raw) {
  DataGen gen(o.seed);
  std::vector<std::string> keys;
  Bytes values;
  std::vector<KeyValue> kvs;
  for (size_t i = 0; i < n; i += o.batch) {
    size_t m = std::min(o.batch, n - i);
    keys.clear();
    kvs.clear();
    values.resize(m * kValueBytes);
    Batch b;
    for (size_t j = 0; j < m; ++j) {
      keys.push_back(gen.key(i + j));
      gen.value(i + j, values.data() + j * kValueBytes);
    }
    for (size_t j = 0; j < m; ++j) {
      ByteView v = ByteView(values).subspan(j * kValueBytes, kValueBytes);
      kvs.push_back({as_bytes(keys[j]), v});
      TRELLIS_TRY(b.put(keys[j], v));
    }
    auto cid = rep.commit(b);
    if (!cid) return cid.status();
    TRELLIS_TRY(raw.put_batch(kvs));
  }
  return Status::ok();
}

struct ScanTiming {
  size_t keys = 0;
  double seconds = 0;
  uint64_t bytes = 0;
};

Result<ScanTiming> scan_trellis(const Replica& rep, std::string_view prefix) {
  ScanTiming t;
  Stopwatch sw;
  sw.start();
  TRELLIS_TRY(rep.scan(prefix, [&](std::string_view key, ByteView value) {
    ++t.keys;
    t.bytes += key.size() + value.size();
    if (!value.empty()) t.bytes += value[0];
    return true;
  }));
  sw.stop();
  t.seconds = sw.seconds();
  return t;
}

Result<ScanTiming> scan_raw(const RawLmdb& raw, std::string_view prefix) {
  ScanTiming t;
  Stopwatch sw;
  sw.start();
  auto n = raw.scan_prefix(prefix, &t.bytes);
  sw.stop();
  if (!n) return n.status();
  t.keys = *n;
  t.seconds = sw.seconds();
  return t;
}

double rate(const ScanTiming& t) {
  return static_cast<double>(t.keys) / t.seconds;
}

}  // namespace

Result<BenchResult> run_scan(const Options& o, const WorkDir& work) {
  const size_t n = o.keys ? o.keys : kDefaultScanKeys;
  std::string dir = work.fresh("scan-trellis");
  std::string raw_dir = work.fresh("scan-raw");
  std::vector<double> values, baselines, prefix_values, prefix_baselines;
  double rss = 0, baseline_rss = 0, setup_seconds = 0;
  size_t prefix_keys = 0;
  {
    ReplicaOptions ro;
    ro.sync = false;  // setup only; scans never write
    auto rep = Replica::open(dir, ro);
    if (!rep) return rep.status();
    auto raw = RawLmdb::open(raw_dir, /*sync=*/false);
    if (!raw) return raw.status();
    std::fprintf(stderr, "crdt-scan: writing %zu keys (setup, not timed)...\n", n);
    Stopwatch setup;
    setup.start();
    TRELLIS_TRY(fill(o, n, **rep, **raw));
    setup.stop();
    setup_seconds = setup.seconds();

    for (size_t r = 0; r < o.runs; ++r) {
      reset_peak_rss();
      auto full = scan_trellis(**rep, "");
      if (!full) return full.status();
      auto pre = scan_trellis(**rep, kPrefix);
      if (!pre) return pre.status();
      rss = std::max(rss, peak_rss_mb());

      reset_peak_rss();
      auto bfull = scan_raw(**raw, "");
      if (!bfull) return bfull.status();
      auto bpre = scan_raw(**raw, kPrefix);
      if (!bpre) return bpre.status();
      baseline_rss = std::max(baseline_rss, peak_rss_mb());

      if (full->keys != n || bfull->keys != n || pre->keys != bpre->keys ||
          full->bytes != bfull->bytes || pre->bytes != bpre->bytes)
        return Status(Code::corrupt,
                      fmt::format("scan results differ: replica {} keys ({} under {}), raw "
                                  "LMDB {} keys ({}), {} written",
                                  full->keys, pre->keys, kPrefix, bfull->keys, bpre->keys, n));
      prefix_keys = pre->keys;
      values.push_back(rate(*full));
      baselines.push_back(rate(*bfull));
      prefix_values.push_back(rate(*pre));
      prefix_baselines.push_back(rate(*bpre));
    }
  }
  BenchResult res;
  res.name = "crdt-scan";
  res.unit = "keys/s";
  res.value = median(values);
  res.baseline = median(baselines);
  res.peak_rss_mb = rss;
  res.target_value = 1'000'000;
  res.run_values = values;
  res.run_baselines = baselines;
  auto& d = res.detail;
  d["keys"] = n;
  d["batch"] = o.batch;
  d["prefix"] = kPrefix;
  d["prefix_keys"] = prefix_keys;
  d["prefix_value"] = median(prefix_values);
  d["prefix_baseline"] = median(prefix_baselines);
  d["prefix_ratio"] = median(prefix_values) / median(prefix_baselines);
  d["store_mb"] = store_mb(dir);
  d["baseline_store_mb"] = store_mb(raw_dir);
  d["baseline_peak_rss_mb"] = baseline_rss;
  d["process_peak_rss_mb"] = process_peak_rss_mb();
  d["setup_seconds"] = setup_seconds;
  d["warm_cache"] = true;
  d["seed"] = o.seed;
  res.extra = fmt::format(
      "{} keys, warm cache; prefix \"{}\" ({} keys): {} keys/s vs raw {} keys/s (ratio {:.2f}); "
      "baseline peak RSS {:.0f} MB",
      grouped(static_cast<double>(n)), kPrefix, grouped(static_cast<double>(prefix_keys)),
      grouped(median(prefix_values)), grouped(median(prefix_baselines)),
      median(prefix_values) / median(prefix_baselines), baseline_rss);
  work.drop(dir);
  work.drop(raw_dir);
  return res;
}

}  // namespace trellis::bench
