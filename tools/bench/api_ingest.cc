// api-ingest: pins/s accepted through the REST API's POST /pins/{cid} on one
// of 3 real trellisd peers by --concurrency keep-alive clients, against a
// 3-member etcd cluster taking the same number of puts through its gRPC
// gateway (POST /v3/kv/put) from the same client in the same run.
//
// Trellis: 3 fresh peers (tools/bench/trellis_peers.h), durable writes, no
// IPFS daemon. The client POSTs /pins/CID?replication=-1 for --pins distinct
// CIDv1 raw CIDs to peer 0; every answer must be 200 with the pin. A 200
// means the pin is committed (fsync) into peer 0's CRDT. Timed from the
// first request to the last 200 (value), and from the first request until
// peers 1 and 2 hold exactly peer 0's state of --pins pins ("seen by all 3",
// polled through the control socket's `info` after the last 200).
//
// etcd: 3 fresh members; the same client, the same concurrency, one put per
// pin to the leader: key "/pins/CID", value the pin record Trellis stores
// for that pin. Timed the same way (baseline); then each member is polled
// for a count of /pins/ keys. The two sides alternate which goes first.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <thread>

#include "pinning/pin.h"
#include "tools/bench/benchmarks.h"
#include "tools/bench/etcd_members.h"
#include "tools/bench/http_load.h"
#include "tools/bench/trellis_peers.h"

namespace trellis::bench {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr size_t kDefaultPins = 10'000;
constexpr size_t kDefaultConcurrency = 64;
constexpr size_t kPeers = 3;
constexpr auto kSeenLimit = 600s;
constexpr double kTargetRatio = 20;

// The same pins for both sides: REST targets, and etcd put bodies whose
// value is the record Trellis stores for the pin.
struct Workload {
  LoadPlan trellis, etcd;
  size_t value_bytes = 0;
};

Workload make_workload(const Options& o, size_t n, size_t concurrency) {
  Workload w;
  w.trellis.concurrency = w.etcd.concurrency = concurrency;
  w.trellis.expect = "\"cid\"";
  w.etcd.expect = "\"header\"";
  w.etcd.content_type = "application/json";
  w.trellis.targets.reserve(n);
  w.etcd.targets.assign(n, "/v3/kv/put");
  w.etcd.bodies.reserve(n);
  DataGen gen(o.seed);
  int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  for (size_t i = 0; i < n; ++i) {
    Cid cid = Cid::sha256(kCodecRaw, gen.value(i, 0x617069));
    w.trellis.targets.push_back("/pins/" + cid.to_string() + "?replication=-1");
    pinning::Pin p;
    p.cid = cid;
    p.replication_factor_min = p.replication_factor_max = -1;
    p.timestamp = now;
    Bytes v = pinning::encode_pin(p);
    w.value_bytes = v.size();
    std::string value(reinterpret_cast<const char*>(v.data()), v.size());
    nlohmann::json body = {{"key", base64(pinning::pin_key(cid))}, {"value", base64(value)}};
    w.etcd.bodies.push_back(body.dump());
  }
  return w;
}

// One side's run.
struct SideRun {
  LoadResult load;
  double seen_seconds = 0;  // first request → held by all 3
  double leader_cpu = 0;    // CPU seconds of the peer / member taking the load
  double others_cpu = 0;    // of the other two
  double leader_rss_mb = 0;
  std::string version;  // etcd only
};

Status check_load(const LoadResult& r, size_t n, const char* what) {
  if (r.failed > 0 || r.ok != n)
    return Status(Code::unavailable, fmt::format("{}: {} of {} requests failed; the first: {}", what,
                                                 r.failed, n, r.first_error));
  return Status::ok();
}

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Polls peers 1.. until each holds peer 0's state (digest) with n keys.
Status wait_trellis_seen(const TrellisPeers& peers, size_t n, const std::string& state0) {
  auto deadline = Clock::now() + kSeenLimit;
  std::vector<bool> done(peers.size(), false);
  done[0] = true;
  std::string last;
  while (Clock::now() < deadline) {
    bool all = true;
    for (size_t i = 1; i < peers.size(); ++i) {
      if (done[i]) continue;
      auto j = peers.info(i);
      if (!j) return j.status();
      done[i] = (*j)["state"] == state0 && (*j)["keys"] == n;
      all = all && done[i];
      last = fmt::format("peer {}: {} keys, {} wanted, {} pending", i, (*j)["keys"].dump(),
                         (*j)["wants"].dump(), (*j)["pending"].dump());
    }
    if (all) return Status::ok();
    std::this_thread::sleep_for(20ms);
  }
  return Status(Code::unavailable, "the pins did not reach every peer in time (" + last + ")");
}

Result<SideRun> trellis_once(const std::string& binary, const std::string& dir, LoadPlan& plan) {
  const size_t n = plan.targets.size();
  auto peers = TrellisPeers::start(binary, dir, kPeers);
  if (!peers) return peers.status();
  plan.port = (*peers)->rest_port();
  std::vector<double> cpu0;
  for (size_t i = 0; i < kPeers; ++i) cpu0.push_back((*peers)->cpu_seconds(i));
  auto load = run_load(plan);
  if (!load) return load.status();
  TRELLIS_TRY(check_load(*load, n, "trellis POST /pins/{cid}"));
  auto info0 = (*peers)->info(0);
  if (!info0) return info0.status();
  if ((*info0)["keys"] != n)
    return Status(Code::corrupt, fmt::format("peer 0 holds {} keys after {} pins were accepted",
                                             (*info0)["keys"].dump(), n));
  TRELLIS_TRY(wait_trellis_seen(**peers, n, (*info0)["state"].get<std::string>()));
  SideRun out;
  out.load = *load;
  out.seen_seconds = since(load->first_sent);
  out.leader_cpu = (*peers)->cpu_seconds(0) - cpu0[0];
  for (size_t i = 1; i < kPeers; ++i) out.others_cpu += (*peers)->cpu_seconds(i) - cpu0[i];
  out.leader_rss_mb = (*peers)->peak_rss_mb(0);
  (*peers)->stop();
  return out;
}

Result<SideRun> etcd_once(const std::string& binary, const std::string& dir, LoadPlan& plan,
                          size_t run) {
  const size_t n = plan.targets.size();
  fs::create_directories(dir);
  auto members = EtcdMembers::start(binary, dir, kPeers, fmt::format("trellis-bench-{}", run));
  if (!members) return members.status();
  const size_t leader = (*members)->leader();
  plan.port = (*members)->client_port(leader);
  std::vector<double> cpu0;
  for (size_t i = 0; i < kPeers; ++i) cpu0.push_back((*members)->cpu_seconds(i));
  auto load = run_load(plan);
  if (!load) return load.status();
  TRELLIS_TRY(check_load(*load, n, "etcd POST /v3/kv/put"));
  auto deadline = Clock::now() + kSeenLimit;
  for (size_t i = 0; i < kPeers; ++i) {
    while (true) {
      auto c = (*members)->count(i, "/pins/");
      if (!c) return c.status();
      if (*c == n) break;
      if (*c > n || Clock::now() > deadline)
        return Status(Code::corrupt, fmt::format("etcd member {} holds {} of {} keys", i, *c, n));
      std::this_thread::sleep_for(20ms);
    }
  }
  SideRun out;
  out.load = *load;
  out.seen_seconds = since(load->first_sent);
  out.leader_cpu = (*members)->cpu_seconds(leader) - cpu0[leader];
  for (size_t i = 0; i < kPeers; ++i)
    if (i != leader) out.others_cpu += (*members)->cpu_seconds(i) - cpu0[i];
  out.leader_rss_mb = (*members)->peak_rss_mb(leader);
  out.version = (*members)->version();
  (*members)->stop();
  return out;
}

double rate(size_t n, double seconds) {
  return seconds > 0 ? static_cast<double>(n) / seconds : 0;
}

double per_item_us(double seconds, size_t n) {
  return seconds * 1e6 / static_cast<double>(n);
}

}  // namespace

Result<BenchResult> run_api_ingest(const Options& o, const WorkDir& work) {
  const size_t n = o.pins ? o.pins : kDefaultPins;
  const size_t concurrency = o.concurrency ? o.concurrency : kDefaultConcurrency;
  auto trellisd = find_trellisd(o.trellisd);
  if (!trellisd) return trellisd.status();
  auto etcd = find_etcd();
  if (!etcd) return etcd.status();
  Workload w = make_workload(o, n, concurrency);

  BenchResult res;
  res.name = "api-ingest";
  res.unit = "pins/s";
  res.baseline_name = "etcd-3-members";
  res.target_ratio = kTargetRatio;
  std::vector<double> seen, etcd_seen, p50, p99, etcd_p50, etcd_p99;
  std::vector<double> cpu0_us, cpu12_us, etcd_leader_us, etcd_others_us, client_us, etcd_client_us;
  double rss = 0, etcd_rss = 0;
  std::string version;  // etcd's, as it reports itself
  for (size_t run = 0; run < o.runs; ++run) {
    std::optional<SideRun> t, e;
    for (int side = 0; side < 2; ++side) {
      bool trellis_side = (side == 0) == (run % 2 == 0);
      std::string dir = work.fresh(fmt::format("{}-{}", trellis_side ? "trellis" : "etcd", run));
      auto r = trellis_side ? trellis_once(*trellisd, dir, w.trellis)
                            : etcd_once(*etcd, dir, w.etcd, run);
      if (!r) return Status(r.status().code(), fmt::format("run {}: {}", run + 1, r.status().message()));
      (trellis_side ? t : e) = *r;
      work.drop(dir);
    }
    res.run_values.push_back(rate(n, t->load.seconds));
    res.run_baselines.push_back(rate(n, e->load.seconds));
    seen.push_back(rate(n, t->seen_seconds));
    etcd_seen.push_back(rate(n, e->seen_seconds));
    p50.push_back(t->load.p50_ms);
    p99.push_back(t->load.p99_ms);
    etcd_p50.push_back(e->load.p50_ms);
    etcd_p99.push_back(e->load.p99_ms);
    cpu0_us.push_back(per_item_us(t->leader_cpu, n));
    cpu12_us.push_back(per_item_us(t->others_cpu, n));
    etcd_leader_us.push_back(per_item_us(e->leader_cpu, n));
    etcd_others_us.push_back(per_item_us(e->others_cpu, n));
    client_us.push_back(per_item_us(t->load.cpu_seconds, n));
    etcd_client_us.push_back(per_item_us(e->load.cpu_seconds, n));
    rss = std::max(rss, t->leader_rss_mb);
    etcd_rss = std::max(etcd_rss, e->leader_rss_mb);
    version = e->version;
    std::fprintf(stderr,
                 "  run %zu: trellis %.2f s (%s pins/s accepted; all 3 peers after %.2f s), "
                 "etcd %.2f s (%s puts/s; all 3 members after %.2f s)\n",
                 run + 1, t->load.seconds, grouped(res.run_values.back()).c_str(),
                 t->seen_seconds, e->load.seconds, grouped(res.run_baselines.back()).c_str(),
                 e->seen_seconds);
  }

  res.value = median(res.run_values);
  res.baseline = median(res.run_baselines);
  res.peak_rss_mb = rss;  // trellisd peer 0, not this process
  auto& d = res.detail;
  d["pins"] = n;
  d["concurrency"] = concurrency;
  d["peers"] = kPeers;
  d["seen_all_pins_per_s"] = median(seen);
  d["run_seen_all"] = seen;
  d["etcd_seen_all_puts_per_s"] = median(etcd_seen);
  d["run_etcd_seen_all"] = etcd_seen;
  d["p50_ms"] = median(p50);
  d["p99_ms"] = median(p99);
  d["etcd_p50_ms"] = median(etcd_p50);
  d["etcd_p99_ms"] = median(etcd_p99);
  d["trellisd_cpu_us_per_pin"] = median(cpu0_us);
  d["other_peers_cpu_us_per_pin"] = median(cpu12_us);
  d["etcd_leader_cpu_us_per_put"] = median(etcd_leader_us);
  d["etcd_followers_cpu_us_per_put"] = median(etcd_others_us);
  d["client_cpu_us_per_pin"] = median(client_us);
  d["client_cpu_us_per_put"] = median(etcd_client_us);
  d["value_bytes"] = w.value_bytes;
  d["baseline_peak_rss_mb"] = etcd_rss;
  d["etcd"] = *etcd;
  d["etcd_version"] = version;
  d["trellisd"] = *trellisd;
  res.extra = fmt::format(
      "{} pins POSTed to peer 0 of {} trellisd (?replication=-1, durable, no IPFS daemon) by {} "
      "keep-alive connections; seen by all {}: {} pins/s; etcd {}: {} members, the same client "
      "putting {} B values (the pin record) to the leader's /v3/kv/put, on all {} at {} puts/s; "
      "latency p50/p99 {:.1f}/{:.1f} ms vs etcd {:.1f}/{:.1f} ms; CPU per pin: trellisd peer 0 "
      "{:.0f} µs, peers 1+2 {:.0f} µs; per put: etcd leader {:.0f} µs, followers {:.0f} µs; "
      "peak RSS: trellisd peer 0 {:.0f} MB, etcd leader {:.0f} MB",
      grouped(static_cast<double>(n)), kPeers, concurrency, kPeers, grouped(median(seen)), version,
      kPeers,
      w.value_bytes, kPeers, grouped(median(etcd_seen)), median(p50), median(p99),
      median(etcd_p50), median(etcd_p99), median(cpu0_us), median(cpu12_us),
      median(etcd_leader_us), median(etcd_others_us), rss, etcd_rss);
  return res;
}

}  // namespace trellis::bench
