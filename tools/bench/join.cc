// join: seconds until a fresh trellisd peer, bootstrapped to a running peer
// holding N pins, holds that peer's state durably; one result per size of
// --sizes (default 1,000,000 pins).
//
// Per size: one source peer (tools/bench/pinset.h: the pins are written into
// its state folder before it starts, kImportChunk per block, allocated to
// an absent peer so nothing is pinned; repinning off) runs for all runs.
// Each run starts a fresh joiner (`trellisd init --bootstrap SOURCE`, same
// settings) and polls its control socket's `heads` every kPoll until it
// has the source's heads with nothing wanted, pending or staged; timed from
// the start of its process. Then (untimed) its `info` must show the
// source's state digest and N keys. value = that time (s).
//
// baseline: the same pins copied the plainest way over loopback TCP — the
// /pins/ keys and values read from the source's store, length-prefixed,
// into a fresh raw LMDB store, 10,000 per synced transaction
// (tools/bench/raw_copy.h). ratio = baseline ÷ value (higher is better).
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <thread>

#include "daemon/config.h"
#include "daemon/control.h"
#include "daemon/state_commands.h"
#include "tools/bench/benchmarks.h"
#include "tools/bench/pinset.h"
#include "tools/bench/raw_copy.h"

namespace trellis::bench {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kPoll = 100ms;
constexpr auto kJoinLimit = 3600s;
constexpr double kTargetSeconds = 30;
constexpr size_t kTargetPins = 1'000'000;  // the target is stated at this size
constexpr size_t kRawBatch = 10'000;

Result<nlohmann::json> heads_of(const TrellisPeers& peers, size_t i) {
  auto line = control_request(peers.dir(i) + "/control.sock", "heads");
  if (!line) return line.status();
  auto j = nlohmann::json::parse(*line, nullptr, false);
  if (j.is_discarded() || !j.value("ok", false)) return Status(Code::unavailable, "heads: " + *line);
  return j;
}

std::set<std::string> head_set(const nlohmann::json& j) {
  std::set<std::string> out;
  for (const auto& h : j["heads"]) out.insert(h.get<std::string>());
  return out;
}

struct JoinRun {
  double seconds = 0;
  double rss_mb = 0, cpu_s = 0;
  uint64_t disk = 0;
};

// Starts a fresh joiner and waits until it holds the source's state.
Result<JoinRun> join_once(TrellisPeers& peers, const std::set<std::string>& heads,
                          const std::string& state, size_t n) {
  auto k = peers.add(1, holding_setup(false));
  if (!k) return k.status();
  auto t0 = Clock::now();
  TRELLIS_TRY(peers.launch(*k, 1));
  JoinRun out;
  std::string last;
  for (;;) {
    auto j = heads_of(peers, *k);
    if (!j) return j.status();
    if ((*j)["wants"] == 0 && (*j)["pending"] == 0 && (*j)["staged"] == 0 && head_set(*j) == heads)
      break;
    last = fmt::format("{} blocks, {} merged, {} wanted", (*j)["blocks"].dump(),
                       (*j)["merged"].dump(), (*j)["wants"].dump());
    if (Clock::now() - t0 > kJoinLimit)
      return Status(Code::unavailable, "the joiner did not catch up in time (" + last + ")");
    std::this_thread::sleep_for(kPoll);
  }
  out.seconds = seconds_since(t0);
  out.rss_mb = peers.peak_rss_mb(*k);
  out.cpu_s = peers.cpu_seconds(*k);
  auto info = peers.info(*k);
  if (!info) return info.status();
  if ((*info)["state"] != state || (*info)["keys"] != n)
    return Status(Code::corrupt, fmt::format("the joiner holds {} keys and another state than the "
                                             "source's", (*info)["keys"].dump()));
  peers.stop_peers(*k, 1);
  out.disk = disk_bytes(peers.dir(*k));
  return out;
}

Result<BenchResult> join_size(const Options& o, const WorkDir& work, const std::string& binary,
                              size_t n) {
  std::string root = work.fresh(fmt::format("join-{}", n));
  auto peers = TrellisPeers::empty(binary, root);
  if (auto r = peers->add(1, holding_setup(false)); !r) return r.status();
  TRELLIS_TRY(write_pinset(state_path(peers->dir(0)), n, o.seed, "join source", kImportChunk));
  TRELLIS_TRY(peers->launch(0, 1));
  auto src = peers->info(0);
  if (!src) return src.status();
  if ((*src)["keys"] != n)
    return Status(Code::corrupt, fmt::format("the source holds {} keys, not {}", (*src)["keys"].dump(), n));
  const std::set<std::string> heads = head_set(*src);
  const std::string state = (*src)["state"].get<std::string>();

  BenchResult res;
  res.name = "join";
  res.unit = "s";
  res.baseline_name = "raw-copy";
  res.lower_is_better = true;
  res.decimals = 2;
  if (n == kTargetPins) res.target_value = kTargetSeconds;
  std::vector<double> rss, cpu, disk, raw_disk;
  uint64_t raw_bytes = 0;
  for (size_t run = 0; run < o.runs; ++run) {
    auto r = join_once(*peers, heads, state, n);
    if (!r) return Status(r.status().code(), fmt::format("run {}: {}", run + 1, r.status().message()));
    work.drop(peers->dir(peers->size() - 1));
    std::string raw_dir = work.fresh(fmt::format("join-raw-{}", run));
    std::filesystem::create_directories(raw_dir);
    auto c = raw_copy(state_path(peers->dir(0)), raw_dir, kRawBatch);
    if (!c) return c.status();
    if (c->pins != n) return Status(Code::corrupt, fmt::format("raw copy moved {} pins", c->pins));
    raw_disk.push_back(static_cast<double>(disk_bytes(raw_dir)));
    work.drop(raw_dir);
    raw_bytes = c->bytes;
    res.run_values.push_back(r->seconds);
    res.run_baselines.push_back(c->seconds);
    rss.push_back(r->rss_mb);
    cpu.push_back(r->cpu_s);
    disk.push_back(static_cast<double>(r->disk));
    std::fprintf(stderr, "  %s pins, run %zu: joined in %.2f s (peak RSS %.0f MB); raw copy %.2f s\n",
                 grouped(static_cast<double>(n)).c_str(), run + 1, r->seconds, r->rss_mb, c->seconds);
  }
  res.value = median(res.run_values);
  res.baseline = median(res.run_baselines);
  res.peak_rss_mb = median(rss);  // the joiner's
  auto info = peers->info(0);
  auto& d = res.detail;
  d["pins"] = n;
  d["blocks"] = info ? (*info)["blocks"] : nlohmann::json();
  d["pins_per_s"] = static_cast<double>(n) / res.value;
  d["joiner_cpu_s"] = median(cpu);
  d["joiner_disk_mb"] = median(disk) / 1e6;
  d["source_peak_rss_mb"] = peers->peak_rss_mb(0);
  d["raw_bytes_sent"] = raw_bytes;
  d["raw_disk_mb"] = median(raw_disk) / 1e6;
  d["raw_batch"] = kRawBatch;
  d["trellisd"] = binary;
  res.extra = fmt::format(
      "{} pins ({} blocks) joined from one source peer over loopback, durable; {:.0f} pins/s, "
      "joiner CPU {:.1f} s, peak RSS {:.0f} MB, data folder {:.0f} MB; raw copy: {:.0f} MB of "
      "keys and values into raw LMDB ({:.0f} MB on disk), {} per synced transaction",
      grouped(static_cast<double>(n)), d["blocks"].dump(), static_cast<double>(n) / res.value,
      median(cpu), median(rss), median(disk) / 1e6, static_cast<double>(raw_bytes) / 1e6,
      median(raw_disk) / 1e6, grouped(kRawBatch));
  peers->stop();
  work.drop(root);
  return res;
}

}  // namespace

Result<std::vector<BenchResult>> run_join(const Options& o, const WorkDir& work) {
  auto trellisd = find_trellisd(o.trellisd);
  if (!trellisd) return trellisd.status();
  return for_each_size(o.sizes, {kTargetPins}, [&](size_t n) -> Result<std::vector<BenchResult>> {
    auto r = join_size(o, work, *trellisd, n);
    if (!r) return r.status();
    return std::vector<BenchResult>{std::move(*r)};
  });
}

}  // namespace trellis::bench
