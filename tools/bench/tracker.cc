// tracker: pins/s that pinning::Tracker drives into a real IPFS daemon
// (js-ipfs, started here through tests/ipfs/ipfsd.py) for blocks the daemon
// already holds, against a bare sequential HTTP loop making the same pin/add
// calls to the same daemon in the same run.
//
// Setup (not timed): --pins raw blocks of 100 bytes are stored with
// block/put, then pinned and unpinned once by the bare loop (warm-up). Each
// run then times, in alternating order:
//   baseline  one keep-alive connection, one POST at a time, the exact
//             request the tracker's IpfsClient sends:
//             /api/v0/pin/add?arg=CID&recursive=true&progress=true&timeout=…
//   minimal   the same loop with only ?arg=CID&recursive=true (a detail)
//   tracker   one Batch commit of --pins pins allocated to this peer into a
//             fresh Replica (durable unless --nosync) whose hook drives a
//             Tracker (--concurrency operations at once), from the commit
//             until the tracker's queue is empty
// After each phase pin/ls must list exactly the --pins CIDs besides what the
// daemon held before; then everything is unpinned (not timed).
#include "net/asio.h"  // first: Boost 1.74 needs <utility> before Asio

#include <fmt/format.h>

#include <algorithm>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>

#include "crdt/replica.h"
#include "ipfs_daemon.h"  // tests/pinning: the js-ipfs child process
#include "pinning/tracker.h"
#include "tools/bench/benchmarks.h"

namespace trellis::bench {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using pinning::IpfsClient;
using pinning::IpfsOptions;
using pinning::IpfsPin;

constexpr size_t kDefaultPins = 2'000;
constexpr size_t kSetupConcurrency = 10;  // block/put and pin/rm (not timed)
constexpr auto kPhaseLimit = 600s;
constexpr const char* kSelf = "trellis-bench";

template <class T>
net::awaitable<void> store_in(net::awaitable<T> aw, std::optional<T>* out) {
  *out = co_await std::move(aw);
}

// Runs `aw` on `io` (and whatever else is queued there) until it finishes;
// nullopt after `limit`.
template <class T>
std::optional<T> run_on(net::asio::io_context& io, net::awaitable<T> aw,
                        std::chrono::seconds limit = 600s) {
  std::optional<T> out;
  net::asio::co_spawn(io, store_in(std::move(aw), &out), net::asio::detached);
  auto deadline = Clock::now() + limit;
  while (!out && Clock::now() < deadline) {
    if (io.stopped()) io.restart();
    io.run_one_for(100ms);
  }
  return out;
}

Status timed_out(const std::string& what) {
  return Status(Code::unavailable, what + " did not finish in time");
}

// `workers` coroutines taking indexes 0..n-1 in turn and calling fn(i).
net::awaitable<void> pool_worker(std::function<net::awaitable<Status>(size_t)>* fn, size_t n,
                                 size_t* next, Status* err, size_t* finished) {
  while (*next < n && err->is_ok()) {
    size_t i = (*next)++;
    auto aw = (*fn)(i);
    Status st = co_await std::move(aw);
    if (!st && err->is_ok()) *err = st;
  }
  ++*finished;
}

Status run_pool(net::asio::io_context& io, size_t n, size_t workers,
                std::function<net::awaitable<Status>(size_t)> fn, const std::string& what) {
  size_t next = 0, finished = 0;
  Status err;
  for (size_t w = 0; w < workers; ++w)
    net::asio::co_spawn(io, pool_worker(&fn, n, &next, &err, &finished), net::asio::detached);
  auto deadline = Clock::now() + kPhaseLimit;
  while (finished < workers) {
    if (Clock::now() > deadline) return timed_out(what);
    if (io.stopped()) io.restart();
    io.run_one_for(100ms);
  }
  if (!err) return Status(err.code(), what + ": " + err.message());
  return Status::ok();
}

net::awaitable<Status> put_one(IpfsClient* ipfs, Bytes data, Cid want) {
  auto aw = ipfs->block_put(std::move(data));
  auto got = co_await std::move(aw);
  if (!got) co_return got.status();
  if (*got != want)
    co_return Status(Code::corrupt, "block/put returned " + got->to_string() + ", expected " +
                                        want.to_string());
  co_return Status::ok();
}

net::awaitable<Status> unpin_one(IpfsClient* ipfs, Cid cid) {
  auto aw = ipfs->pin_rm(std::move(cid));
  co_return co_await std::move(aw);
}

std::string digest_key(const Cid& cid) {
  ByteView d = cid.hash().digest;
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

// How many recursive pins the daemon lists, and how many of them are ours.
struct PinCount {
  size_t total = 0;
  size_t ours = 0;
};

Result<PinCount> count_pins(net::asio::io_context& io, IpfsClient& ipfs,
                            const std::set<std::string>& ours) {
  PinCount c;
  std::string type = "recursive";
  std::function<bool(const Cid&, IpfsPin)> fn = [&](const Cid& cid, IpfsPin) {
    c.total++;
    if (ours.count(digest_key(cid))) c.ours++;
    return true;
  };
  auto st = run_on(io, ipfs.pin_ls(type, fn));
  if (!st) return timed_out("pin/ls");
  if (!*st) return *st;
  return c;
}

// Fails loudly unless exactly `want` of our CIDs (and nothing else new) are
// pinned recursively.
Status expect_pinned(net::asio::io_context& io, IpfsClient& ipfs, const std::set<std::string>& ours,
                     size_t before, size_t want, const std::string& after) {
  auto c = count_pins(io, ipfs, ours);
  if (!c) return c.status();
  if (c->ours != want || c->total != before + want)
    return Status(Code::corrupt,
                  fmt::format("after {}: pin/ls lists {} of the {} benchmark CIDs and {} recursive "
                              "pins in all (expected {} and {})",
                              after, c->ours, ours.size(), c->total, want, before + want));
  return Status::ok();
}

Status unpin_all(net::asio::io_context& io, IpfsClient& ipfs, const std::vector<Cid>& cids,
                 const std::set<std::string>& ours, size_t before, const std::string& after) {
  TRELLIS_TRY(run_pool(
      io, cids.size(), kSetupConcurrency,
      [&](size_t i) { return unpin_one(&ipfs, cids[i]); }, "unpinning after " + after));
  return expect_pinned(io, ipfs, ours, before, 0, "unpinning after " + after);
}

// ---- the baseline: a bare synchronous HTTP/1.1 client, one keep-alive
// connection, one request at a time ----

class BareClient {
 public:
  explicit BareClient(uint16_t port) : port_(port) {}

  Status connect() {
    net::error_code ec;
    sock_.close(ec);
    sock_ = net::tcp::socket(io_);
    net::tcp::endpoint ep(net::asio::ip::make_address_v4("127.0.0.1"), port_);
    sock_.connect(ep, ec);
    if (ec) return Status(Code::unavailable, "cannot connect to IPFS: " + ec.message());
    sock_.set_option(net::tcp::no_delay(true), ec);  // as IpfsClient does
    buf_.clear();
    connects_++;
    open_ = true;
    return Status::ok();
  }

  // POSTs `target`; the reply must be 200 with "Pins" in its body.
  Status pin(const std::string& target) {
    if (!open_) TRELLIS_TRY(connect());
    http::request<http::string_body> req(http::verb::post, target, 11);
    req.set(http::field::host, fmt::format("127.0.0.1:{}", port_));
    req.set(http::field::user_agent, "trellis-bench");
    req.keep_alive(true);
    req.prepare_payload();
    net::error_code ec;
    http::write(sock_, req, ec);
    if (ec) return Status(Code::unavailable, "pin/add request: " + ec.message());
    http::response<http::string_body> res;
    http::read(sock_, buf_, res, ec);
    if (ec) return Status(Code::unavailable, "pin/add reply: " + ec.message());
    if (!res.keep_alive()) open_ = false;
    if (res.result_int() != 200 || res.body().find("\"Pins\"") == std::string::npos)
      return Status(Code::unavailable, fmt::format("pin/add answered HTTP {}: {}",
                                                   res.result_int(), res.body()));
    return Status::ok();
  }

  size_t connects() const { return connects_; }

 private:
  uint16_t port_;
  net::asio::io_context io_;
  net::tcp::socket sock_{io_};
  beast::flat_buffer buf_;
  bool open_ = false;
  size_t connects_ = 0;
};

// The query IpfsClient::pin_add sends (pinning/ipfs.cc), or only the two
// arguments that matter.
std::string pin_target(const Cid& cid, bool same_as_client) {
  std::string t = "/api/v0/pin/add?arg=" + cid.to_string() + "&recursive=true";
  if (same_as_client)
    t += fmt::format("&progress=true&timeout={}ms", IpfsOptions{}.pin_timeout.count());
  return t;
}

struct LoopRun {
  double seconds = 0;
  double cpu_seconds = 0;
  size_t connects = 0;
};

Result<LoopRun> bare_loop(uint16_t port, const std::vector<Cid>& cids, bool same_as_client) {
  std::vector<std::string> targets;
  targets.reserve(cids.size());
  for (const auto& c : cids) targets.push_back(pin_target(c, same_as_client));
  BareClient client(port);
  TRELLIS_TRY(client.connect());
  Stopwatch sw;
  double cpu0 = process_cpu_seconds();
  sw.start();
  for (const auto& t : targets) TRELLIS_TRY(client.pin(t));
  sw.stop();
  return LoopRun{sw.seconds(), process_cpu_seconds() - cpu0, client.connects()};
}

// ---- the tracker ----

struct TrackerRun {
  double seconds = 0;
  double commit_seconds = 0;
  double cpu_seconds = 0;
};

Result<TrackerRun> tracker_once(const Options& o, uint16_t port, size_t concurrency,
                                const std::vector<Cid>& cids, const std::string& dir) {
  net::asio::io_context io;
  pinning::Tracker* hooked = nullptr;
  ReplicaOptions ro;
  ro.sync = o.sync;
  ro.hook = [&hooked](const Change& c) {
    if (hooked) hooked->on_change(c);
  };
  auto rep = Replica::open(dir, ro);
  if (!rep) return rep.status();
  IpfsOptions io_opts;
  io_opts.port = port;
  io_opts.max_connections = std::max(io_opts.max_connections, concurrency);
  IpfsClient ipfs(io, io_opts);
  pinning::ReplicaPins pins(**rep);
  pinning::TrackerOptions topts;
  topts.self = kSelf;
  topts.queue.concurrency = concurrency;
  topts.recover_interval = 0ms;
  auto tracker = std::make_unique<pinning::Tracker>(io, ipfs, pins, topts);
  hooked = tracker.get();
  tracker->start();
  // One pooled connection before the clock starts, as the baseline has.
  auto id = run_on(io, ipfs.id(), 30s);
  if (!id) return timed_out("IPFS id");
  if (!*id) return id->status();

  Batch batch;
  for (const auto& cid : cids) {
    pinning::Pin p;
    p.cid = cid;
    p.replication_factor_min = p.replication_factor_max = 1;
    p.allocations = {kSelf};
    TRELLIS_TRY(batch.put(pinning::pin_key(cid), encode_pin(p)));
  }

  TrackerRun out;
  Status failed;
  double cpu0 = process_cpu_seconds();
  auto t0 = Clock::now();
  auto head = (*rep)->commit(batch);
  out.commit_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!head) return head.status();
  auto next_check = Clock::now() + 1s;
  while (tracker->queue().size() != 0) {
    if (io.stopped()) io.restart();
    io.run_one_for(100ms);
    auto now = Clock::now();
    if (now > next_check) {  // a failed operation stays queued: fail loudly
      next_check = now + 1s;
      tracker->queue().for_each([&](const Cid& cid, const pinning::Op& op) {
        if (op.error.empty()) return true;
        failed = Status(Code::unavailable, "the tracker failed to pin " + cid.to_string() + ": " +
                                               op.error);
        return false;
      });
      if (!failed) break;
      if (now - t0 > kPhaseLimit) {
        failed = timed_out(fmt::format("the tracker ({} of {} pins left)",
                                       tracker->queue().size(), cids.size()));
        break;
      }
    }
  }
  out.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  out.cpu_seconds = process_cpu_seconds() - cpu0;
  hooked = nullptr;
  tracker->stop();
  io.run_for(200ms);
  tracker.reset();
  if (!failed) return failed;
  return out;
}

}  // namespace

Result<BenchResult> run_tracker(const Options& o, const WorkDir& work) {
  const size_t n = o.pins ? o.pins : kDefaultPins;
  const size_t concurrency = o.concurrency ? o.concurrency : pinning::OpQueueOptions{}.concurrency;
  BenchResult res;
  res.name = "tracker";
  res.unit = "pins/s";
  res.baseline_name = "bare-http-loop";
  res.target_ratio = 0.9;

  std::fprintf(stderr, "  starting js-ipfs...\n");
  trellis::testing::IpfsDaemon daemon(work.fresh("ipfs"));
  try {
    daemon.start();
  } catch (const std::exception& e) {
    return Status(Code::unavailable, e.what());
  }
  net::asio::io_context io;
  IpfsOptions io_opts;
  io_opts.port = daemon.port();
  IpfsClient ipfs(io, io_opts);
  auto id = run_on(io, ipfs.id(), 30s);
  if (!id) return timed_out("IPFS id");
  if (!*id) return id->status();
  std::string agent = (*id)->agent_version;

  // The blocks: raw, 100 random bytes each (not timed).
  DataGen gen(o.seed);
  std::vector<Bytes> data;
  std::vector<Cid> cids;
  std::set<std::string> ours;
  for (size_t i = 0; i < n; ++i) {
    data.push_back(gen.value(i, 0x7069));
    cids.push_back(Cid::sha256(kCodecRaw, data.back()));
    ours.insert(digest_key(cids.back()));
  }
  if (ours.size() != n) return Status(Code::corrupt, "generated blocks collide");
  std::fprintf(stderr, "  block/put of %zu raw blocks (%s, %zu B each)...\n", n, agent.c_str(),
               kValueBytes);
  Stopwatch setup;
  setup.start();
  TRELLIS_TRY(run_pool(
      io, n, kSetupConcurrency, [&](size_t i) { return put_one(&ipfs, data[i], cids[i]); },
      "block/put"));
  setup.stop();
  auto before = count_pins(io, ipfs, ours);
  if (!before) return before.status();
  if (before->ours != 0) {  // a leftover from a kept --dir: start clean
    TRELLIS_TRY(unpin_all(io, ipfs, cids, ours, before->total - before->ours, "setup"));
    before->total -= before->ours;
  }
  const size_t pre = before->total;
  // A fresh daemon answers its first few thousand calls slower (V8 warming
  // up): one untimed pass of pin/add and pin/rm first, so run 1 is not
  // penalised for going first.
  std::fprintf(stderr, "  warm-up: %zu pin/add + pin/rm (not timed)...\n", n);
  auto warm = bare_loop(daemon.port(), cids, true);
  if (!warm) return warm.status();
  TRELLIS_TRY(expect_pinned(io, ipfs, ours, pre, n, "warm-up"));
  TRELLIS_TRY(unpin_all(io, ipfs, cids, ours, pre, "warm-up"));

  std::vector<double> commit_ms, minimal, cpu_us, baseline_cpu_us;
  size_t baseline_connects = 0;
  double tracker_rss = 0;
  for (size_t run = 0; run < o.runs; ++run) {
    std::vector<std::string> order = {"baseline", "minimal", "tracker"};
    if (run % 2) std::reverse(order.begin(), order.end());
    std::string line;
    for (const auto& phase : order) {
      if (phase == "tracker") {
        std::string dir = work.fresh(fmt::format("tracker-{}", run));
        reset_peak_rss();
        auto t = tracker_once(o, daemon.port(), concurrency, cids, dir);
        if (!t) return t.status();
        tracker_rss = std::max(tracker_rss, peak_rss_mb());
        work.drop(dir);
        res.run_values.push_back(static_cast<double>(n) / t->seconds);
        commit_ms.push_back(t->commit_seconds * 1000);
        cpu_us.push_back(t->cpu_seconds * 1e6 / static_cast<double>(n));
        line += fmt::format("{}tracker ×{} {:.2f} s ({} pins/s, commit {:.0f} ms)",
                            line.empty() ? "" : "; ", concurrency, t->seconds,
                            grouped(res.run_values.back()), commit_ms.back());
      } else {
        bool same = phase == "baseline";
        auto b = bare_loop(daemon.port(), cids, same);
        if (!b) return b.status();
        double rate = static_cast<double>(n) / b->seconds;
        (same ? res.run_baselines : minimal).push_back(rate);
        if (same) {
          baseline_connects = std::max(baseline_connects, b->connects);
          baseline_cpu_us.push_back(b->cpu_seconds * 1e6 / static_cast<double>(n));
        }
        line += fmt::format("{}{} loop {:.2f} s ({} pins/s)", line.empty() ? "" : "; ",
                            same ? "bare" : "minimal-query", b->seconds, grouped(rate));
      }
      TRELLIS_TRY(expect_pinned(io, ipfs, ours, pre, n, phase));
      TRELLIS_TRY(unpin_all(io, ipfs, cids, ours, pre, phase));
    }
    std::fprintf(stderr, "  run %zu: %s\n", run + 1, line.c_str());
  }
  daemon.stop();

  res.value = median(res.run_values);
  res.baseline = median(res.run_baselines);
  res.peak_rss_mb = tracker_rss;
  res.detail["pins"] = n;
  res.detail["concurrency"] = concurrency;
  res.detail["sync"] = o.sync;
  res.detail["commits"] = 1;
  res.detail["commit_ms"] = median(commit_ms);
  // CPU this process spent per pin while timed (the daemon's is not counted).
  res.detail["cpu_us_per_pin"] = median(cpu_us);
  res.detail["baseline_cpu_us_per_pin"] = median(baseline_cpu_us);
  res.detail["block_bytes"] = kValueBytes;
  res.detail["ipfs"] = agent;
  res.detail["preexisting_pins"] = pre;
  res.detail["baseline_query"] = "arg=CID&recursive=true&progress=true&timeout=" +
                                 std::to_string(IpfsOptions{}.pin_timeout.count()) + "ms";
  res.detail["baseline_connections"] = baseline_connects;
  res.detail["minimal_query_pins_per_s"] = median(minimal);
  res.detail["run_minimal_query"] = minimal;
  res.detail["block_put_seconds"] = setup.seconds();
  res.detail["warmup_pins_per_s"] = static_cast<double>(n) / warm->seconds;
  res.extra = fmt::format(
      "{} pins of raw {} B blocks held by the daemon ({}); tracker: one Batch commit ({}, {:.0f} "
      "ms) driving a Tracker with concurrency {}, timed to an empty queue; baseline: one "
      "keep-alive connection, one pin/add at a time, the tracker's query; minimal query "
      "(?arg&recursive=true only) {} pins/s; client CPU per pin {:.0f} µs (tracker) vs {:.0f} µs "
      "(bare loop)",
      grouped(static_cast<double>(n)), kValueBytes, agent, o.sync ? "durable" : "no fsync",
      median(commit_ms), concurrency, grouped(median(minimal)), median(cpu_us),
      median(baseline_cpu_us));
  return res;
}

}  // namespace trellis::bench
