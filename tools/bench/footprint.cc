// footprint: disk and memory per pin of a trellisd peer holding N pins, for
// each size of --sizes (default 1,000,000 and 10,000,000). Two results per
// size, in bytes per pin (lower is better):
//
//   footprint-disk  the peer's data folder on disk (allocated blocks), after
//                   the pins were written (tools/bench/pinset.h) and the
//                   daemon ran; baseline: a raw LMDB store holding the same
//                   /pins/ keys and values (pin records), one database.
//   footprint-rss   the daemon's VmRSS after a full GET /allocations (every
//                   pin read once: the whole store mapped in); the idle RSS
//                   after start-up and the heap part (RssAnon) are details.
//                   baseline: how much this process's RSS grows while a
//                   cursor walks the raw store once.
//
// The sizes are measured once each (they are sizes, not times: --runs does
// not apply).
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <thread>

#include "daemon/config.h"
#include "tools/bench/baseline.h"
#include "tools/bench/benchmarks.h"
#include "tools/bench/http_load.h"
#include "tools/bench/pinset.h"
#include "tools/bench/raw_copy.h"

namespace trellis::bench {

namespace {

using namespace std::chrono_literals;

constexpr auto kSettle = 2s;  // idle after "ready" before the idle RSS

Result<double> raw_scan_rss_mb(const std::string& raw_dir) {
  auto raw = RawLmdb::open(raw_dir, false);
  if (!raw) return raw.status();
  double before = current_rss_mb();
  uint64_t bytes = 0;
  auto got = (*raw)->scan(&bytes);
  if (!got) return got.status();
  return current_rss_mb() - before;
}

Result<std::vector<BenchResult>> footprint_size(const Options& o, const WorkDir& work,
                                                const std::string& binary, size_t n) {
  std::string root = work.fresh(fmt::format("footprint-{}", n));
  auto holder = holding_peer(binary, root, n, o.seed, "footprint");
  if (!holder) return holder.status();
  auto& peers = *holder;
  const std::string raw_dir = root + "/raw";
  const double raw_disk = static_cast<double>(disk_bytes(raw_dir));
  auto raw_rss = raw_scan_rss_mb(raw_dir);
  if (!raw_rss) return raw_rss.status();
  work.drop(raw_dir);

  TRELLIS_TRY(peers->launch(0, 1));
  std::this_thread::sleep_for(kSettle);
  const double idle = peers->status_mb(0, "VmRSS");
  const double idle_anon = peers->status_mb(0, "RssAnon");
  std::fprintf(stderr, "  footprint: %s pins, idle RSS %.0f MB; listing them all\n",
               grouped(static_cast<double>(n)).c_str(), idle);
  auto listed = http_get_lines(peers->rest_port(), "/allocations");
  if (!listed) return listed.status();
  if (listed->lines != n)
    return Status(Code::corrupt, fmt::format("GET /allocations gave {} of {} pins", listed->lines, n));
  const double rss = peers->status_mb(0, "VmRSS");
  const double anon = peers->status_mb(0, "RssAnon");
  const double hwm = peers->peak_rss_mb(0);
  peers->stop();
  const double disk = static_cast<double>(disk_bytes(peers->dir(0)));
  const double pins = static_cast<double>(n);
  const double mb = 1024.0 * 1024.0;

  BenchResult d;
  d.name = "footprint-disk";
  d.unit = "B/pin";
  d.baseline_name = "raw-lmdb";
  d.lower_is_better = true;
  d.value = disk / pins;
  d.baseline = raw_disk / pins;
  d.run_values = {d.value};
  d.run_baselines = {d.baseline};
  d.peak_rss_mb = hwm;
  d.detail["pins"] = n;
  d.detail["disk_mb"] = disk / 1e6;
  d.detail["baseline_disk_mb"] = raw_disk / 1e6;
  d.extra = fmt::format("{} pins: data folder {:.0f} MB on disk vs {:.0f} MB for raw LMDB holding "
                        "the same keys and pin records",
                        grouped(pins), disk / 1e6, raw_disk / 1e6);

  BenchResult m;
  m.name = "footprint-rss";
  m.unit = "B/pin";
  m.baseline_name = "raw-lmdb-scan";
  m.lower_is_better = true;
  m.value = rss * mb / pins;
  m.baseline = *raw_rss * mb / pins;
  m.run_values = {m.value};
  m.run_baselines = {m.baseline};
  m.peak_rss_mb = hwm;
  m.detail["pins"] = n;
  m.detail["rss_mb"] = rss;
  m.detail["rss_anon_mb"] = anon;
  m.detail["idle_rss_mb"] = idle;
  m.detail["idle_rss_anon_mb"] = idle_anon;
  m.detail["idle_bytes_per_pin"] = idle * mb / pins;
  m.detail["baseline_rss_mb"] = *raw_rss;
  m.extra = fmt::format(
      "{} pins: trellisd VmRSS {:.0f} MB after listing every pin (heap {:.0f} MB), {:.0f} MB "
      "idle after start (heap {:.0f} MB); raw LMDB scan grew RSS by {:.0f} MB",
      grouped(pins), rss, anon, idle, idle_anon, *raw_rss);
  work.drop(root);
  return std::vector<BenchResult>{d, m};
}

}  // namespace

Result<std::vector<BenchResult>> run_footprint(const Options& o, const WorkDir& work) {
  auto trellisd = find_trellisd(o.trellisd);
  if (!trellisd) return trellisd.status();
  return for_each_size(o.sizes, {1'000'000, 10'000'000},
                       [&](size_t n) { return footprint_size(o, work, *trellisd, n); });
}

}  // namespace trellis::bench
