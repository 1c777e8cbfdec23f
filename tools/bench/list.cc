// list: pins/s streamed through GET /allocations from a trellisd peer holding
// N pins (--sizes; default 1,000,000), read by a client that counts the
// NDJSON lines as they arrive and keeps nothing.
//
// The peer (tools/bench/pinset.h) runs alone with REST on, pinning on but
// no IPFS daemon (the route needs the tracker), nothing allocated to it.
// Each run is one full listing, timed from connect to the end of the body;
// every run must return exactly N lines. A warm-up listing first (untimed)
// puts the store in the page cache, as the baseline's is.
//
// baseline: the floor for reading the same data — a cursor walk over a raw
// LMDB store holding the same /pins/ keys and values (built in this process
// from the peer's store, opened afresh, warm). ratio = value ÷ baseline.
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>

#include "daemon/config.h"
#include "tools/bench/baseline.h"
#include "tools/bench/benchmarks.h"
#include "tools/bench/http_load.h"
#include "tools/bench/pinset.h"
#include "tools/bench/raw_copy.h"

namespace trellis::bench {

namespace {

constexpr size_t kDefaultPins = 1'000'000;
constexpr double kTargetRate = 1'000'000;

Result<StreamedReply> list_once(uint16_t port, size_t n) {
  auto r = http_get_lines(port, "/allocations");
  if (!r) return r.status();
  if (r->status != 200 || r->lines != n)
    return Status(Code::corrupt, fmt::format("GET /allocations: HTTP {}, {} lines for {} pins",
                                             r->status, r->lines, n));
  return r;
}

Result<double> raw_scan_seconds(const std::string& raw_dir, size_t n) {
  auto raw = RawLmdb::open(raw_dir, false);
  if (!raw) return raw.status();
  uint64_t bytes = 0;
  auto t0 = std::chrono::steady_clock::now();
  auto got = (*raw)->scan(&bytes);
  double s = seconds_since(t0);
  if (!got) return got.status();
  if (*got != n) return Status(Code::corrupt, fmt::format("raw scan saw {} of {} pins", *got, n));
  return s;
}

Result<BenchResult> list_size(const Options& o, const WorkDir& work, const std::string& binary,
                              size_t n) {
  std::string root = work.fresh(fmt::format("list-{}", n));
  auto peers = holding_peer(binary, root, n, o.seed, "list");
  if (!peers) return peers.status();
  const std::string raw_dir = root + "/raw";
  TRELLIS_TRY((*peers)->launch(0, 1));
  std::fprintf(stderr, "  list: warm-up listing of %s pins\n", grouped(static_cast<double>(n)).c_str());
  auto warm = list_once((*peers)->rest_port(), n);
  if (!warm) return warm.status();

  BenchResult res;
  res.name = "list";
  res.unit = "pins/s";
  res.baseline_name = "raw-lmdb-scan";
  res.target_value = kTargetRate;
  std::vector<double> mb_s, client_cpu, server_cpu;
  uint64_t bytes = 0;
  for (size_t run = 0; run < o.runs; ++run) {
    double cpu0 = (*peers)->cpu_seconds(0);
    auto r = list_once((*peers)->rest_port(), n);
    if (!r) return Status(r.status().code(), fmt::format("run {}: {}", run + 1, r.status().message()));
    server_cpu.push_back((*peers)->cpu_seconds(0) - cpu0);
    auto raw = raw_scan_seconds(raw_dir, n);
    if (!raw) return raw.status();
    res.run_values.push_back(static_cast<double>(n) / r->seconds);
    res.run_baselines.push_back(static_cast<double>(n) / *raw);
    mb_s.push_back(static_cast<double>(r->bytes) / r->seconds / 1e6);
    client_cpu.push_back(r->cpu_seconds);
    bytes = r->bytes;
    std::fprintf(stderr, "  %s pins, run %zu: listed in %.2f s (%s pins/s), raw scan %.3f s\n",
                 grouped(static_cast<double>(n)).c_str(), run + 1, r->seconds,
                 grouped(res.run_values.back()).c_str(), *raw);
  }
  res.value = median(res.run_values);
  res.baseline = median(res.run_baselines);
  res.peak_rss_mb = (*peers)->peak_rss_mb(0);
  auto& d = res.detail;
  d["pins"] = n;
  d["body_bytes"] = bytes;
  d["bytes_per_pin"] = static_cast<double>(bytes) / static_cast<double>(n);
  d["mb_per_s"] = median(mb_s);
  d["trellisd_cpu_us_per_pin"] = median(server_cpu) * 1e6 / static_cast<double>(n);
  d["client_cpu_us_per_pin"] = median(client_cpu) * 1e6 / static_cast<double>(n);
  d["rss_anon_mb"] = (*peers)->status_mb(0, "RssAnon");
  d["trellisd"] = binary;
  res.extra = fmt::format(
      "{} pins, GET /allocations ({:.0f} B of NDJSON per pin, {:.0f} MB/s) from one trellisd "
      "(warm cache); CPU per pin: trellisd {:.2f} µs, client {:.2f} µs; trellisd RssAnon {:.1f} "
      "MB after; baseline: cursor walk of raw LMDB holding the same keys and values",
      grouped(static_cast<double>(n)), d["bytes_per_pin"].get<double>(), median(mb_s),
      d["trellisd_cpu_us_per_pin"].get<double>(), d["client_cpu_us_per_pin"].get<double>(),
      d["rss_anon_mb"].get<double>());
  (*peers)->stop();
  work.drop(root);
  return res;
}

}  // namespace

Result<std::vector<BenchResult>> run_list(const Options& o, const WorkDir& work) {
  auto trellisd = find_trellisd(o.trellisd);
  if (!trellisd) return trellisd.status();
  return for_each_size(o.sizes, {kDefaultPins}, [&](size_t n) -> Result<std::vector<BenchResult>> {
    auto r = list_size(o, work, *trellisd, n);
    if (!r) return r.status();
    return std::vector<BenchResult>{std::move(*r)};
  });
}

}  // namespace trellis::bench
