// follow: one trusted writer and --followers read-only followers
// (trellisd --follower) on loopback: the seconds until every follower holds
// the writer's state, and the bytes the writer sent meanwhile, against one
// full copy of the DAG.
//
// Each run: a fresh writer (`trellisd init`, no pinning, trusted_peers =
// [itself]) gets --pins pins through `trellisd state import` before it
// starts (10 blocks of 1,000 pins by default); the DAG's size is the sum of
// its block sizes, read from the store while the writer is stopped. Then,
// with the writer running: first one follower alone (baseline), then the
// --followers followers started together (value). Followers bootstrap to
// the writer, trust only it, run without pinning and listen on loopback
// ports, so they meet each other through peer exchange. A follower is
// complete once its control `info` shows the writer's state digest and
// heads with nothing wanted; timed from its start, polled every
// kPoll. Writer bytes are its `info` bytes_sent before and after a phase.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <thread>

#include "crdt/replica.h"
#include "daemon/config.h"
#include "pinning/pin_json.h"
#include "tools/bench/benchmarks.h"
#include "tools/bench/trellis_peers.h"

namespace trellis::bench {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr size_t kDefaultFollowers = 20;
constexpr size_t kDefaultPins = 10'000;
constexpr auto kSyncLimit = 300s;
constexpr auto kPoll = 100ms;
constexpr double kTargetSeconds = 10;
constexpr double kTargetCopies = 4;

// What a complete follower shows in `info`.
struct Target {
  std::string state;
  std::set<std::string> heads;
};

// One phase: followers started together until all are complete.
struct Phase {
  std::vector<double> seconds;  // per follower, from the start
  double writer_bytes = 0;      // sent by the writer meanwhile
  double writer_streams = 0;    // sub-DAG streams it served
  double writer_cpu = 0;        // its CPU seconds
};

Status write_pins(const std::string& path, size_t n, uint64_t seed) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) return Status(Code::io_error, "cannot write " + path);
  DataGen gen(seed);
  for (size_t i = 0; i < n; ++i) {
    pinning::Pin p;
    p.cid = Cid::sha256(kCodecRaw, gen.value(i, 0x666f6c));
    p.name = fmt::format("follow-{}", i);
    p.replication_factor_min = p.replication_factor_max = -1;
    std::string line = pinning::pin_to_json(p).dump() + "\n";
    std::fputs(line.c_str(), f);
  }
  if (std::fclose(f) != 0) return Status(Code::io_error, "cannot write " + path);
  return Status::ok();
}

struct DagSize {
  uint64_t bytes = 0, blocks = 0;
};

// Sums the block sizes of a stopped peer's store.
Result<DagSize> dag_size(const std::string& dir) {
  ReplicaOptions ro;
  ro.read_only = true;
  auto replica = Replica::open(state_path(dir), ro);
  if (!replica) return replica.status();
  DagSize size;
  const Store& store = (*replica)->store();
  TRELLIS_TRY(store.read([&](const Txn& txn) {
    Cursor c(txn, store.dbs().blocks);
    for (bool ok = c.first(); ok; ok = c.next()) {
      size.bytes += c.value().size();
      ++size.blocks;
    }
    return Status::ok();
  }));
  return size;
}

bool complete(const nlohmann::json& info, const Target& t) {
  if (info["state"] != t.state || info["wants"] != 0) return false;
  std::set<std::string> heads;
  for (const auto& h : info["heads"]) heads.insert(h.get<std::string>());
  return heads == t.heads;
}

double number(const nlohmann::json& info, const char* key) {
  return info[key].get<double>();
}

// Starts `count` followers of peer 0 together and times each until complete.
Result<Phase> sync_followers(TrellisPeers& peers, size_t count, const Target& target) {
  PeerSetup setup;
  setup.ipfs_api = "";
  setup.init_args = {"--follower", "--trusted", peers.id(0)};
  auto first = peers.add(count, setup);
  if (!first) return first.status();
  auto before = peers.info(0);
  if (!before) return before.status();
  double cpu0 = peers.cpu_seconds(0);
  auto t0 = Clock::now();
  TRELLIS_TRY(peers.launch(*first, count));
  Phase out;
  out.seconds.assign(count, -1);
  size_t left = count;
  std::string last;
  while (left > 0) {
    if (Clock::now() - t0 > kSyncLimit)
      return Status(Code::unavailable, fmt::format("{} of {} followers incomplete after {} s ({})",
                                                   left, count, kSyncLimit.count(), last));
    for (size_t i = 0; i < count; ++i) {
      if (out.seconds[i] >= 0) continue;
      auto j = peers.info(*first + i);
      if (!j) return j.status();
      if (complete(*j, target)) {
        out.seconds[i] = std::chrono::duration<double>(Clock::now() - t0).count();
        --left;
      } else {
        last = fmt::format("follower {}: {} keys, {} wanted, {} peers", i, (*j)["keys"].dump(),
                           (*j)["wants"].dump(), (*j)["peers"].size());
      }
    }
    if (left > 0) std::this_thread::sleep_for(kPoll);
  }
  auto after = peers.info(0);
  if (!after) return after.status();
  out.writer_bytes = number(*after, "bytes_sent") - number(*before, "bytes_sent");
  out.writer_streams = number(*after, "served_streams") - number(*before, "served_streams");
  out.writer_cpu = peers.cpu_seconds(0) - cpu0;
  peers.stop_peers(*first, count);
  return out;
}

struct RunFigures {
  Phase alone, all;
  DagSize dag;
  double writer_rss_mb = 0;
};

Result<RunFigures> follow_once(const std::string& binary, const std::string& dir, size_t followers,
                               size_t pins, uint64_t seed) {
  auto peers = TrellisPeers::empty(binary, dir);
  PeerSetup writer;
  writer.ipfs_api = "";
  writer.trust_only_self = true;
  if (auto r = peers->add(1, writer); !r) return r.status();
  std::string file = dir + "/pins.ndjson";
  TRELLIS_TRY(write_pins(file, pins, seed));
  std::vector<std::string> import = {binary, "state", "import", "--dir", peers->dir(0), file};
  if (auto r = run_command(import, dir + "/import.log"); !r) return r.status();
  RunFigures out;
  auto dag = dag_size(peers->dir(0));
  if (!dag) return dag.status();
  out.dag = *dag;
  TRELLIS_TRY(peers->launch(0, 1));
  auto info = peers->info(0);
  if (!info) return info.status();
  if ((*info)["keys"] != pins)
    return Status(Code::corrupt, fmt::format("the writer holds {} keys after importing {} pins",
                                             (*info)["keys"].dump(), pins));
  Target target{(*info)["state"].get<std::string>(), {}};
  for (const auto& h : (*info)["heads"]) target.heads.insert(h.get<std::string>());
  auto alone = sync_followers(*peers, 1, target);
  if (!alone) return alone.status();
  out.alone = *alone;
  auto all = sync_followers(*peers, followers, target);
  if (!all) return all.status();
  out.all = *all;
  out.writer_rss_mb = peers->peak_rss_mb(0);
  peers->stop();
  return out;
}

double last_of(const Phase& p) {
  return *std::max_element(p.seconds.begin(), p.seconds.end());
}

}  // namespace

Result<BenchResult> run_follow(const Options& o, const WorkDir& work) {
  auto trellisd = find_trellisd(o.trellisd);
  if (!trellisd) return trellisd.status();
  const size_t pins = o.pins ? o.pins : kDefaultPins;
  const size_t followers = o.followers ? o.followers : kDefaultFollowers;

  BenchResult res;
  res.name = "follow";
  res.unit = "s";
  res.baseline_name = "one-follower";
  std::vector<double> copies, alone_copies, median_follower, streams, cpu;
  DagSize dag;
  for (size_t run = 0; run < o.runs; ++run) {
    std::string dir = work.fresh(fmt::format("follow-{}", run));
    auto r = follow_once(*trellisd, dir, followers, pins, o.seed);
    if (!r) return Status(r.status().code(), fmt::format("run {}: {}", run + 1, r.status().message()));
    work.drop(dir);
    dag = r->dag;
    const double dag_bytes = static_cast<double>(dag.bytes);
    res.run_values.push_back(last_of(r->all));
    res.run_baselines.push_back(last_of(r->alone));
    copies.push_back(r->all.writer_bytes / dag_bytes);
    alone_copies.push_back(r->alone.writer_bytes / dag_bytes);
    median_follower.push_back(median(r->all.seconds));
    streams.push_back(r->all.writer_streams);
    cpu.push_back(r->all.writer_cpu);
    res.peak_rss_mb = std::max(res.peak_rss_mb, r->writer_rss_mb);  // the writer's
    std::fprintf(stderr,
                 "  run %zu: %zu followers complete after %.2f s (median %.2f s), writer sent "
                 "%.1f copies in %.0f streams; one follower alone %.2f s, %.1f copies\n",
                 run + 1, followers, res.run_values.back(), median_follower.back(), copies.back(),
                 streams.back(), res.run_baselines.back(), alone_copies.back());
  }
  res.value = median(res.run_values);
  res.baseline = median(res.run_baselines);
  res.decimals = 2;
  res.lower_is_better = true;
  res.target_value = kTargetSeconds;
  const double writer_copies = median(copies);
  res.other_target = fmt::format("writer ≤{:.0f} copies", kTargetCopies);
  res.other_target_met = writer_copies <= kTargetCopies;
  auto& d = res.detail;
  d["followers"] = followers;
  d["pins"] = pins;
  d["dag_bytes"] = dag.bytes;
  d["dag_blocks"] = dag.blocks;
  d["writer_copies"] = writer_copies;
  d["run_writer_copies"] = copies;
  d["baseline_writer_copies"] = median(alone_copies);
  d["median_follower_s"] = median(median_follower);
  d["writer_streams_served"] = median(streams);
  d["writer_cpu_s"] = median(cpu);
  d["target_writer_copies"] = kTargetCopies;
  d["trellisd"] = *trellisd;
  res.extra = fmt::format(
      "{} followers started together after one alone, {} pins ({} blocks, {} B) imported into "
      "the writer; the writer sent {:.2f} copies of the DAG ({:.2f} for one follower alone) in "
      "{:.0f} sub-DAG streams, {:.2f} CPU s; median follower {:.2f} s",
      followers, grouped(static_cast<double>(pins)), dag.blocks, grouped(static_cast<double>(dag.bytes)),
      writer_copies, median(alone_copies), median(streams), median(cpu), median(median_follower));
  return res;
}

}  // namespace trellis::bench
