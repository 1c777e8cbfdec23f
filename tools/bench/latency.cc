// latency: milliseconds from a REST pin request to the pin being visible on
// all 5 trellisd peers, p50 and p99 over --samples requests (value = p99).
//
// Trellis: 5 fresh peers (the api-ingest setup: durable, pinning on but no
// IPFS daemon), REST on peer 0. One request at a time: POST
// /pins/CID?replication=-1 to peer 0 on a fresh connection, timed from just
// before the connection opens; a 200 means peer 0 holds it; then peers 1–4
// are polled (control socket `get /pins/CID`, every kPoll) until each holds
// it. A sample is the time until the last of them does.
//
// baseline: 5 etcd members (etcd_members.h), one put at a time to the
// leader's /v3/kv/put (key /pins/CID, the pin's record as value), then each
// follower polled with a serializable range read of that key until it has
// it — the same shape, with Raft instead of the CRDT. Lower is better;
// ratio = value ÷ baseline.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <thread>

#include "daemon/control.h"
#include "pinning/pin.h"
#include "tools/bench/benchmarks.h"
#include "tools/bench/etcd_members.h"
#include "tools/bench/http_load.h"
#include "tools/bench/pinset.h"

namespace trellis::bench {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr size_t kPeers = 5;
constexpr size_t kDefaultSamples = 200;
constexpr auto kPoll = 500us;
constexpr auto kVisibleLimit = 30s;
constexpr double kTargetMs = 50;

double ms_since(Clock::time_point t0) {
  return seconds_since(t0) * 1e3;
}

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1))];
}

// Polls `visible(i)` for every i in [0, n) except `skip` until all are true.
template <class F>
Status wait_all(size_t n, size_t skip, Clock::time_point t0, F visible) {
  std::vector<bool> done(n, false);
  done[skip] = true;
  for (size_t left = n - 1; left > 0;) {
    for (size_t i = 0; i < n; ++i) {
      if (done[i]) continue;
      auto v = visible(i);
      if (!v) return v.status();
      if (*v) {
        done[i] = true;
        --left;
      }
    }
    if (left == 0) break;
    if (Clock::now() - t0 > kVisibleLimit)
      return Status(Code::unavailable, fmt::format("{} peers still lack the write", left));
    std::this_thread::sleep_for(kPoll);
  }
  return Status::ok();
}

// Per sample: until all peers have it, and until the first (the 200).
struct Samples {
  std::vector<double> all_ms, accept_ms;
  double rss_mb = 0;  // peer 0's / the leader's peak
};

Result<Samples> trellis_samples(const std::string& binary, const std::string& dir,
                                const std::vector<std::string>& cids) {
  auto peers = TrellisPeers::start(binary, dir, kPeers);
  if (!peers) return peers.status();
  Samples out;
  for (const auto& cid : cids) {
    const std::string target = "/pins/" + cid + "?replication=-1";
    const std::string get = "get /pins/" + cid;
    auto t0 = Clock::now();
    auto r = http_call((*peers)->rest_port(), "POST", target);
    if (!r) return r.status();
    if (r->status != 200) return Status(Code::unavailable, fmt::format("POST {}: HTTP {}", target, r->status));
    out.accept_ms.push_back(ms_since(t0));
    TRELLIS_TRY(wait_all(kPeers, 0, t0, [&](size_t i) -> Result<bool> {
      auto line = control_request((*peers)->dir(i) + "/control.sock", get);
      if (!line) return line.status();
      return line->find("\"found\":true") != std::string::npos;
    }));
    out.all_ms.push_back(ms_since(t0));
  }
  out.rss_mb = (*peers)->peak_rss_mb(0);
  (*peers)->stop();
  return out;
}

Result<Samples> etcd_samples(const std::string& binary, const std::string& dir,
                             const std::vector<std::string>& cids,
                             const std::vector<std::string>& values, std::string* version) {
  std::filesystem::create_directories(dir);
  auto m = EtcdMembers::start(binary, dir, kPeers, "trellis-bench-latency");
  if (!m) return m.status();
  const size_t leader = (*m)->leader();
  *version = (*m)->version();
  Samples out;
  for (size_t s = 0; s < cids.size(); ++s) {
    const std::string key = base64("/pins/" + cids[s]);
    const std::string put = nlohmann::json{{"key", key}, {"value", base64(values[s])}}.dump();
    const std::string range = nlohmann::json{{"key", key}, {"serializable", true}}.dump();
    auto t0 = Clock::now();
    auto r = http_call((*m)->client_port(leader), "POST", "/v3/kv/put", put);
    if (!r) return r.status();
    if (r->status != 200) return Status(Code::unavailable, fmt::format("etcd put: HTTP {}", r->status));
    out.accept_ms.push_back(ms_since(t0));
    TRELLIS_TRY(wait_all(kPeers, leader, t0, [&](size_t i) -> Result<bool> {
      auto g = http_call((*m)->client_port(i), "POST", "/v3/kv/range", range);
      if (!g) return g.status();
      return g->body.find("\"kvs\"") != std::string::npos;
    }));
    out.all_ms.push_back(ms_since(t0));
  }
  out.rss_mb = (*m)->peak_rss_mb(leader);
  (*m)->stop();
  return out;
}

}  // namespace

Result<std::vector<BenchResult>> run_latency(const Options& o, const WorkDir& work) {
  auto trellisd = find_trellisd(o.trellisd);
  if (!trellisd) return trellisd.status();
  auto etcd = find_etcd();
  if (!etcd) return etcd.status();
  const size_t samples = o.samples ? o.samples : kDefaultSamples;
  BenchResult res;
  res.name = "latency";
  res.unit = "ms";
  res.baseline_name = "etcd-5-members";
  res.lower_is_better = true;
  res.decimals = 1;
  res.target_value = kTargetMs;
  std::vector<double> p50, etcd_p50, all, etcd_all, accept, etcd_accept, etcd_rss;
  std::string version;
  const std::string holder = absent_peer_id();
  for (size_t run = 0; run < o.runs; ++run) {
    std::vector<std::string> cids, values;
    for (size_t i = 0; i < samples; ++i) {
      pinning::Pin p = bench_pin(o.seed + 1000 * (run + 1), i, holder);
      p.allocations.clear();
      p.replication_factor_min = p.replication_factor_max = -1;
      cids.push_back(p.cid.to_string());
      Bytes v = pinning::encode_pin(p);
      values.emplace_back(reinterpret_cast<const char*>(v.data()), v.size());
    }
    std::string tdir = work.fresh(fmt::format("latency-trellis-{}", run));
    auto t = trellis_samples(*trellisd, tdir, cids);
    if (!t) return Status(t.status().code(), fmt::format("run {}: {}", run + 1, t.status().message()));
    work.drop(tdir);
    std::string edir = work.fresh(fmt::format("latency-etcd-{}", run));
    auto e = etcd_samples(*etcd, edir, cids, values, &version);
    if (!e) return Status(e.status().code(), fmt::format("run {}: {}", run + 1, e.status().message()));
    work.drop(edir);
    res.run_values.push_back(quantile(t->all_ms, 0.99));
    res.run_baselines.push_back(quantile(e->all_ms, 0.99));
    p50.push_back(quantile(t->all_ms, 0.5));
    etcd_p50.push_back(quantile(e->all_ms, 0.5));
    accept.push_back(quantile(t->accept_ms, 0.5));
    etcd_accept.push_back(quantile(e->accept_ms, 0.5));
    all.insert(all.end(), t->all_ms.begin(), t->all_ms.end());
    etcd_all.insert(etcd_all.end(), e->all_ms.begin(), e->all_ms.end());
    res.peak_rss_mb = std::max(res.peak_rss_mb, t->rss_mb);
    etcd_rss.push_back(e->rss_mb);
    std::fprintf(stderr, "  run %zu: trellis p50/p99 %.1f/%.1f ms, etcd %.1f/%.1f ms\n", run + 1,
                 p50.back(), res.run_values.back(), etcd_p50.back(), res.run_baselines.back());
  }
  res.value = median(res.run_values);
  res.baseline = median(res.run_baselines);
  auto& d = res.detail;
  d["peers"] = kPeers;
  d["samples"] = samples;
  d["p50_ms"] = median(p50);
  d["p99_ms"] = res.value;
  d["max_ms"] = *std::max_element(all.begin(), all.end());
  d["etcd_p50_ms"] = median(etcd_p50);
  d["etcd_max_ms"] = *std::max_element(etcd_all.begin(), etcd_all.end());
  d["accept_p50_ms"] = median(accept);
  d["etcd_accept_p50_ms"] = median(etcd_accept);
  d["baseline_peak_rss_mb"] = median(etcd_rss);
  d["run_p50"] = p50;
  d["run_etcd_p50"] = etcd_p50;
  d["poll_ms"] = std::chrono::duration<double, std::milli>(kPoll).count();
  d["etcd_version"] = version;
  res.extra = fmt::format(
      "{} sequential POST /pins/CID?replication=-1 to peer 0 of {} trellisd (durable, no IPFS "
      "daemon), each until `get` finds it on all {}: p50 {:.1f} ms (the 200 itself: {:.1f} ms), "
      "max {:.1f} ms; etcd {} with {} members, put to the leader until a serializable get finds "
      "it on all: p50 {:.1f} ms (the 200: {:.1f} ms), max {:.1f} ms (polling every {:.1f} ms)",
      samples, kPeers, kPeers, median(p50), median(accept), d["max_ms"].get<double>(), version,
      kPeers, median(etcd_p50), median(etcd_accept), d["etcd_max_ms"].get<double>(),
      d["poll_ms"].get<double>());
  return std::vector<BenchResult>{res};
}

}  // namespace trellis::bench
