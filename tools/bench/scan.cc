// crdt-scan: Replica::scan over a replica of N keys, against a raw LMDB
// cursor walk over a database of the same keys and values.
#include <fmt/format.h>
#include <malloc.h>

#include <algorithm>
#include <cstdio>

#include "crdt/replica.h"
#include "tools/bench/baseline.h"
#include "tools/bench/benchmarks.h"

namespace trellis::bench {

namespace {

// The prefix scans: "/pins/a" .. "/pins/7", each about 1/32 of the keys.
constexpr std::string_view kPrefixBase = "/pins/";
constexpr std::string_view kBase32Chars = "abcdefghijklmnopqrstuvwxyz234567";

// Setup commits big batches: fewer transactions, the same data.
size_t setup_batch(const Options& o) {
  return std::max<size_t>(o.batch, 100'000);
}

// Setup (not timed): fills the replica and the baseline database with the
// same keys, without fsync.
Status fill(const Options& o, size_t n, Replica& rep, RawLmdb& raw) {
  DataGen gen(o.seed);
  std::vector<std::string> keys;
  Bytes values;
  std::vector<KeyValue> kvs;
  const size_t batch = setup_batch(o);
  for (size_t i = 0; i < n; i += batch) {
    size_t m = std::min(batch, n - i);
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

// The 32 prefix scans "/pins/a" .. "/pins/7", added up; scan(prefix) is
// scan_trellis or scan_raw bound to its store.
template <class Scan>
Result<ScanTiming> prefix_scans(Scan&& scan) {
  ScanTiming sum;
  for (char c : kBase32Chars) {
    auto t = scan(std::string(kPrefixBase) + c);
    if (!t) return t.status();
    sum.keys += t->keys;
    sum.seconds += t->seconds;
    sum.bytes += t->bytes;
  }
  return sum;
}

}  // namespace

Result<BenchResult> run_scan(const Options& o, const WorkDir& work) {
  const size_t n = o.keys ? o.keys : kDefaultScanKeys;
  std::string dir = work.fresh("scan-trellis");
  std::string raw_dir = work.fresh("scan-raw");
  std::vector<double> values, baselines, prefix_values, prefix_baselines;
  double rss = 0, baseline_rss = 0, setup_seconds = 0;
  {
    ReplicaOptions ro;
    ro.sync = false;  // setup only
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
  }
  malloc_trim(0);  // hand the setup's heap back so RSS shows the scans
  double start_rss = current_rss_mb();
  // Each run opens the stores afresh, so every scan starts with nothing of
  // them mapped into the process (the files stay in the page cache: a
  // warm-cache scan), and each side's RSS covers only its own pages.
  ReplicaOptions ro;
  ro.read_only = true;
  for (size_t r = 0; r < o.runs; ++r) {
    reset_peak_rss();
    auto rep = Replica::open(dir, ro);
    if (!rep) return rep.status();
    auto full = scan_trellis(**rep, "");
    if (!full) return full.status();
    auto pre = prefix_scans([&](const std::string& p) { return scan_trellis(**rep, p); });
    if (!pre) return pre.status();
    rss = std::max(rss, peak_rss_mb());
    rep->reset();

    reset_peak_rss();
    auto raw = RawLmdb::open(raw_dir, /*sync=*/false);
    if (!raw) return raw.status();
    auto bfull = scan_raw(**raw, "");
    if (!bfull) return bfull.status();
    auto bpre = prefix_scans([&](const std::string& p) { return scan_raw(**raw, p); });
    if (!bpre) return bpre.status();
    baseline_rss = std::max(baseline_rss, peak_rss_mb());
    raw->reset();

    if (full->keys != n || bfull->keys != n || pre->keys != n || bpre->keys != n ||
        full->bytes != bfull->bytes || pre->bytes != bpre->bytes)
      return Status(Code::corrupt,
                    fmt::format("scan results differ: replica {} keys ({} by prefix), raw LMDB "
                                "{} keys ({} by prefix), {} written",
                                full->keys, pre->keys, bfull->keys, bpre->keys, n));
    values.push_back(rate(*full));
    baselines.push_back(rate(*bfull));
    prefix_values.push_back(rate(*pre));
    prefix_baselines.push_back(rate(*bpre));
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
  d["setup_batch"] = setup_batch(o);
  d["prefix_scans"] =
      fmt::format("32 scans, \"{}a\" .. \"{}7\", covering every key", kPrefixBase, kPrefixBase);
  d["prefix_value"] = median(prefix_values);
  d["prefix_baseline"] = median(prefix_baselines);
  d["prefix_ratio"] = median(prefix_values) / median(prefix_baselines);
  d["prefix_run_values"] = prefix_values;
  d["store_mb"] = store_mb(dir);
  d["baseline_store_mb"] = store_mb(raw_dir);
  d["baseline_peak_rss_mb"] = baseline_rss;
  d["rss_at_start_mb"] = start_rss;
  d["process_peak_rss_mb"] = process_peak_rss_mb();
  d["setup_seconds"] = setup_seconds;
  d["warm_cache"] = true;
  d["seed"] = o.seed;
  res.extra = fmt::format(
      "{} keys, files in the page cache, mapped afresh; 32 prefix scans \"{}a\"..\"{}7\": {} "
      "keys/s vs raw {} keys/s (ratio {:.2f}); baseline peak RSS {:.0f} MB; RSS before scanning "
      "{:.0f} MB",
      grouped(static_cast<double>(n)), kPrefixBase, kPrefixBase, grouped(median(prefix_values)),
      grouped(median(prefix_baselines)), median(prefix_values) / median(prefix_baselines),
      baseline_rss, start_rss);
  work.drop(dir);
  work.drop(raw_dir);
  return res;
}

}  // namespace trellis::bench
