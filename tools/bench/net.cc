// Network benchmarks: peers in this process on loopback sockets (real TCP,
// Noise, framing and replicator; one io thread per peer).
//
// net-join     a fresh peer syncs a DAG of --blocks blocks of 10 keys from one
//              peer by sub-DAG streaming (blocks/s); baseline: the same sync
//              fetching one block per request, one request in flight.
// net-latency  p50/p99 from a commit on one of 5 peers to the key being
//              readable on all 5 (ms); baseline: the local commit alone.
#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "tools/bench/benchmarks.h"
#include "tools/bench/local_peer.h"

namespace trellis::bench {

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kKeysPerBlock = 10;
constexpr double kBaselineBudgetSeconds = 30;

// A source store of `blocks` commits of 10 puts each (no fsync: setup).
Status build_source(const std::string& dir, size_t blocks, const DataGen& gen) {
  ReplicaOptions ro;
  ro.sync = false;
  auto r = Replica::open(dir, ro);
  if (!r) return r.status();
  for (size_t b = 0; b < blocks; ++b) {
    Batch batch;
    for (size_t k = 0; k < kKeysPerBlock; ++k) {
      uint64_t i = b * kKeysPerBlock + k;
      TRELLIS_TRY(batch.put(gen.key(i), gen.value(i)));
    }
    auto cid = (*r)->commit(batch);
    if (!cid) return cid.status();
    if (b % 20'000 == 19'999) std::fprintf(stderr, "  source: %zu of %zu blocks\n", b + 1, blocks);
  }
  return Status::ok();
}

struct JoinRun {
  double seconds = 0;
  size_t stored = 0;
  bool complete = false;
};

// Starts a fresh peer bootstrapped to `source` and waits until it holds the
// source's heads with nothing wanted or pending, or `budget` runs out.
Result<JoinRun> join_once(LocalPeer& source, const std::string& dir, const net::ClusterSecret& s,
                          bool sync, ReplicatorOptions rep, double budget) {
  auto want = source.run([&] { return source.replica().heads(); });
  if (!want) return want.status();
  std::sort(want->begin(), want->end());
  ReplicaOptions ro;
  ro.sync = sync;
  auto t0 = Clock::now();
  auto peer = LocalPeer::open(dir, s, {source.addr()}, ro, rep);
  if (!peer) return peer.status();
  JoinRun out;
  for (;;) {
    auto state = (*peer)->run([&]() -> Result<std::pair<bool, size_t>> {
      auto info = (*peer)->replica().info();
      if (!info) return info.status();
      std::vector<Cid> heads;
      for (const auto& [cid, h] : info->heads) heads.push_back(cid);
      std::sort(heads.begin(), heads.end());
      return std::pair{heads == *want && info->wants == 0 && info->pending == 0, info->blocks};
    });
    if (!state) return state.status();
    out.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    out.stored = state->second;
    if (state->first) {
      out.complete = true;
      break;
    }
    if (out.seconds > budget) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return out;
}

}  // namespace

Result<BenchResult> run_net_join(const Options& o, const WorkDir& work) {
  BenchResult res;
  res.name = "net-join";
  res.unit = "blocks/s";
  res.baseline_name = "one-block-at-a-time";
  res.target_value = 20'000;
  res.target_ratio = 10;
  DataGen gen(o.seed);
  auto secret = net::ClusterSecret::generate();
  std::string src = work.fresh("join-source");
  std::fprintf(stderr, "  building a source of %zu blocks × %zu keys...\n", o.blocks, kKeysPerBlock);
  Stopwatch build;
  build.start();
  TRELLIS_TRY(build_source(src, o.blocks, gen));
  build.stop();
  ReplicaOptions sro;
  sro.sync = false;
  auto source = LocalPeer::open(src, secret, {}, sro, {});
  if (!source) return source.status();
  double stream_rss = 0;
  size_t baseline_stored = 0;
  bool baseline_complete = true;
  for (size_t run = 0; run < o.runs; ++run) {
    reset_peak_rss();
    auto j = join_once(**source, work.fresh("join-target"), secret, o.sync, {}, 600);
    if (!j) return j.status();
    if (!j->complete) return Status(Code::unavailable, "the join did not complete in 600 s");
    stream_rss = std::max(stream_rss, peak_rss_mb());
    res.run_values.push_back(static_cast<double>(o.blocks) / j->seconds);
    std::fprintf(stderr, "  run %zu: sub-DAG join %.1f s (%s blocks/s)\n", run + 1, j->seconds,
                 grouped(res.run_values.back()).c_str());
    ReplicatorOptions naive;
    naive.use_subdag = false;
    naive.get_batch = 1;
    naive.parallel_gets = 1;
    auto b = join_once(**source, work.fresh("join-baseline"), secret, o.sync, naive,
                       kBaselineBudgetSeconds);
    if (!b) return b.status();
    res.run_baselines.push_back(static_cast<double>(b->stored) / b->seconds);
    baseline_stored = b->stored;
    baseline_complete = baseline_complete && b->complete;
    std::fprintf(stderr, "  run %zu: one-block-at-a-time %s blocks in %.1f s (%s blocks/s)%s\n",
                 run + 1, grouped(static_cast<double>(b->stored)).c_str(), b->seconds,
                 grouped(res.run_baselines.back()).c_str(), b->complete ? "" : ", stopped");
    work.drop("join-target");
    work.drop("join-baseline");
  }
  res.value = median(res.run_values);
  res.baseline = median(res.run_baselines);
  res.peak_rss_mb = stream_rss;
  res.detail["blocks"] = o.blocks;
  res.detail["keys"] = o.blocks * kKeysPerBlock;
  res.detail["sync"] = o.sync;
  res.detail["source_build_seconds"] = build.seconds();
  res.detail["baseline_budget_seconds"] = kBaselineBudgetSeconds;
  res.detail["baseline_complete"] = baseline_complete;
  res.extra = fmt::format(
      "{} blocks × {} keys (100 B values) from one peer on loopback, {}; baseline fetches one "
      "block per request, one in flight, for at most {:.0f} s ({} blocks in the last run); "
      "source built in {:.1f} s",
      grouped(static_cast<double>(o.blocks)), kKeysPerBlock,
      o.sync ? "fsync per batch" : "no fsync", kBaselineBudgetSeconds,
      grouped(static_cast<double>(baseline_stored)), build.seconds());
  return res;
}

namespace {

// When each peer first saw each key (Replica hook), shared across threads.
class Visibility {
 public:
  Visibility(size_t peers, size_t keys) : peers_(peers), seen_(keys, std::vector<Clock::time_point>(peers)) {}
  void saw(size_t peer, size_t key) {
    std::lock_guard lock(mu_);
    if (seen_[key][peer] == Clock::time_point{}) {
      seen_[key][peer] = Clock::now();
      if (++count_[key] == peers_) cv_.notify_all();
    }
  }
  // The time the last peer saw `key`, or nullopt after `timeout`.
  std::optional<Clock::time_point> wait_all(size_t key, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return count_[key] == peers_; })) return std::nullopt;
    return *std::max_element(seen_[key].begin(), seen_[key].end());
  }

 private:
  size_t peers_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::vector<Clock::time_point>> seen_;
  std::map<size_t, size_t> count_;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

}  // namespace

Result<BenchResult> run_net_latency(const Options& o, const WorkDir& work) {
  constexpr size_t kPeers = 5;
  const size_t samples = o.keys ? o.keys : 500;
  BenchResult res;
  res.name = "net-latency";
  res.unit = "ms";
  res.baseline_name = "local-commit";
  res.lower_is_better = true;
  res.target_value = 50;
  auto secret = net::ClusterSecret::generate();
  std::vector<double> p50s, commit_p99s;
  for (size_t run = 0; run < o.runs; ++run) {
    Visibility vis(kPeers, samples);
    std::vector<std::unique_ptr<LocalPeer>> peers;
    for (size_t i = 0; i < kPeers; ++i) {
      ReplicaOptions ro;
      ro.sync = o.sync;
      ro.hook = [&vis, i](const Change& c) {
        if (c.key.rfind("/lat/", 0) == 0) vis.saw(i, std::stoul(c.key.substr(5)));
      };
      std::vector<net::Multiaddr> boot;
      if (i > 0) boot.push_back(peers[0]->addr());
      auto p = LocalPeer::open(work.fresh(fmt::format("lat{}", i)), secret, boot, ro, {});
      if (!p) return p.status();
      peers.push_back(std::move(*p));
    }
    auto deadline = Clock::now() + std::chrono::seconds(30);
    while (std::any_of(peers.begin(), peers.end(), [](auto& p) { return p->peers() < kPeers - 1; })) {
      if (Clock::now() > deadline) return Status(Code::unavailable, "the 5 peers did not form a mesh");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::vector<double> lat, commit;
    for (size_t k = 0; k < samples; ++k) {
      LocalPeer& w = *peers[k % kPeers];
      auto t0 = Clock::now();
      auto cid = w.run([&] {
        auto c = w.replica().put(fmt::format("/lat/{}", k), as_bytes("v"));
        if (c) w.replicator().announce();
        return c;
      });
      auto t1 = Clock::now();
      if (!cid) return cid.status();
      auto all = vis.wait_all(k, std::chrono::seconds(10));
      if (!all) return Status(Code::unavailable, fmt::format("key {} did not reach every peer in 10 s", k));
      lat.push_back(std::chrono::duration<double, std::milli>(*all - t0).count());
      commit.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    res.run_values.push_back(percentile(lat, 0.99));
    p50s.push_back(percentile(lat, 0.50));
    res.run_baselines.push_back(percentile(commit, 0.99));
    commit_p99s.push_back(percentile(commit, 0.99));
    std::fprintf(stderr, "  run %zu: p50 %.2f ms, p99 %.2f ms (local commit p99 %.2f ms)\n", run + 1,
                 p50s.back(), res.run_values.back(), res.run_baselines.back());
    peers.clear();
    for (size_t i = 0; i < kPeers; ++i) work.drop(fmt::format("lat{}", i));
  }
  res.value = median(res.run_values);
  res.baseline = median(res.run_baselines);
  res.peak_rss_mb = peak_rss_mb();
  res.detail["p50_ms"] = median(p50s);
  res.detail["p99_ms"] = res.value;
  res.detail["samples"] = samples;
  res.detail["peers"] = kPeers;
  res.detail["sync"] = o.sync;
  res.extra = fmt::format("{} commits of one key, rotating over {} peers in one process (one io "
                          "thread each, loopback TCP), {}; p50 {:.2f} ms",
                          samples, kPeers, o.sync ? "fsync per commit" : "no fsync", median(p50s));
  return res;
}

}  // namespace trellis::bench
