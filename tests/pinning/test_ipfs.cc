// The IPFS connector and the tracker against a real js-ipfs daemon.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <malloc.h>
#include <optional>

#include "crdt/replica.h"
#include "ipfs_daemon.h"
#include "pinning/tracker.h"
#include "tempdir.h"

using namespace trellis;
using namespace trellis::pinning;
using namespace std::chrono_literals;
using trellis::testing::IpfsDaemon;
using trellis::testing::TempDir;

namespace {

// One daemon for the whole binary (starting one takes seconds).
struct Shared {
  TempDir dir;
  IpfsDaemon daemon{dir.sub("ipfs")};
  Shared() { daemon.start(); }
};

Shared& shared() {
  static Shared s;
  return s;
}

template <class T>
net::awaitable<void> store_in(net::awaitable<T> aw, std::optional<T>* out) {
  *out = co_await std::move(aw);
}

// Runs `aw` on `io` until it finishes (other work on `io` runs too).
template <class T>
T run(net::asio::io_context& io, net::awaitable<T> aw) {
  std::optional<T> out;
  net::asio::co_spawn(io, store_in(std::move(aw), &out), net::asio::detached);
  auto deadline = std::chrono::steady_clock::now() + 120s;
  while (!out && std::chrono::steady_clock::now() < deadline) {
    if (io.stopped()) io.restart();
    io.run_one_for(100ms);
  }
  REQUIRE(out.has_value());
  return std::move(*out);
}

// Runs `io` until pred() holds; false after `limit`.
template <class Pred>
bool eventually(net::asio::io_context& io, Pred pred, std::chrono::milliseconds limit = 30s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    if (io.stopped()) io.restart();
    io.run_for(50ms);
  }
  return pred();
}

Bytes data_of(const std::string& s) { return Bytes(s.begin(), s.end()); }

IpfsOptions options(uint16_t port) {
  IpfsOptions o;
  o.port = port;
  o.connect_timeout = 2s;
  o.call_timeout = 10s;
  o.pin_timeout = 2s;
  return o;
}

// A CID whose block exists nowhere.
Cid missing_cid(const std::string& salt) {
  return Cid::sha256(kCodecRaw, data_of("nobody has this " + salt));
}

// A replica whose changes drive a tracker, over the shared daemon.
struct Peer {
  net::asio::io_context io;
  TempDir dir;
  std::unique_ptr<Replica> replica;
  IpfsClient ipfs;
  std::unique_ptr<ReplicaPins> pins;
  std::unique_ptr<Tracker> tracker;
  bool hooked = true;  // false: state changes the tracker never hears of (a crash)

  explicit Peer(uint16_t port, TrackerOptions topts = {}) : ipfs(io, options(port)) {
    ReplicaOptions ropts;
    ropts.sync = false;
    ropts.hook = [this](const Change& c) {
      if (tracker && hooked) tracker->on_change(c);
    };
    auto opened = Replica::open(dir.sub("state"), ropts);
    REQUIRE(opened.is_ok());
    replica = std::move(opened).value();
    pins = std::make_unique<ReplicaPins>(*replica);
    if (topts.self.empty()) topts.self = "me";
    tracker = std::make_unique<Tracker>(io, ipfs, *pins, topts);
    tracker->start();
  }
  ~Peer() {
    tracker->stop();
    io.run_for(200ms);
  }

  Pin pin(const Cid& cid, std::vector<std::string> allocations = {"me"}) {
    Pin p;
    p.cid = cid;
    p.replication_factor_min = p.replication_factor_max =
        static_cast<int32_t>(allocations.size());
    p.allocations = std::move(allocations);
    REQUIRE(replica->put(pin_key(cid), encode_pin(p)).is_ok());
    return p;
  }
  void unpin(const Cid& cid) { REQUIRE(replica->remove(pin_key(cid)).is_ok()); }
  Cid put_block(const std::string& s) {
    auto c = run(io, ipfs.block_put(data_of(s)));
    REQUIRE_MESSAGE(c.is_ok(), c.status().to_string());
    return *c;
  }
  TrackerStatus status(const Cid& cid) { return run(io, tracker->status(cid)).status; }
  IpfsPin in_ipfs(const Cid& cid) {
    auto r = run(io, ipfs.pin_ls_one(cid));
    REQUIRE(r.is_ok());
    return *r;
  }
  bool reaches(const Cid& cid, TrackerStatus want, std::chrono::milliseconds limit = 30s) {
    return eventually(io, [&] { return status(cid) == want; }, limit);
  }
};

}  // namespace

TEST_CASE("connector: id, block/put, pin add/ls/rm and repo/stat on a real daemon") {
  net::asio::io_context io;
  IpfsClient ipfs(io, options(shared().daemon.port()));
  auto id = run(io, ipfs.id());
  REQUIRE_MESSAGE(id.is_ok(), id.status().to_string());
  CHECK(id->id.size() > 40);

  auto cid = run(io, ipfs.block_put(data_of("connector test")));
  REQUIRE(cid.is_ok());
  CHECK(*cid == Cid::sha256(kCodecRaw, data_of("connector test")));
  CHECK(*run(io, ipfs.pin_ls_one(*cid)) == IpfsPin::none);

  REQUIRE(run(io, ipfs.pin_add(*cid, Mode::recursive)).is_ok());
  CHECK(*run(io, ipfs.pin_ls_one(*cid)) == IpfsPin::recursive);
  REQUIRE(run(io, ipfs.pin_add(*cid, Mode::recursive)).is_ok());  // idempotent
  bool listed = false;
  size_t seen = 0;
  REQUIRE(run(io, ipfs.pin_ls("recursive", [&](const Cid& c, IpfsPin t) {
            seen++;
            if (c == *cid) listed = t == IpfsPin::recursive;
            return true;
          })).is_ok());
  CHECK(listed);
  // Stopping a listing early is not an error.
  size_t taken = 0;
  REQUIRE(run(io, ipfs.pin_ls("recursive", [&](const Cid&, IpfsPin) { return ++taken < 1; }))
              .is_ok());
  CHECK(taken == 1);

  REQUIRE(run(io, ipfs.pin_rm(*cid)).is_ok());
  CHECK(*run(io, ipfs.pin_ls_one(*cid)) == IpfsPin::none);
  CHECK(run(io, ipfs.pin_rm(*cid)).is_ok());  // not pinned is not an error

  REQUIRE(run(io, ipfs.pin_add(*cid, Mode::direct)).is_ok());
  CHECK(*run(io, ipfs.pin_ls_one(*cid)) == IpfsPin::direct);
  REQUIRE(run(io, ipfs.pin_rm(*cid)).is_ok());

  auto stat = run(io, ipfs.repo_stat());
  REQUIRE(stat.is_ok());
  CHECK(stat->repo_size > 0);
}

TEST_CASE("connector: a CID nobody has fails after the pin timeout") {
  net::asio::io_context io;
  IpfsClient ipfs(io, options(shared().daemon.port()));
  auto start = std::chrono::steady_clock::now();
  Status st = run(io, ipfs.pin_add(missing_cid("connector"), Mode::recursive));
  auto took = std::chrono::steady_clock::now() - start;
  CHECK_FALSE(st.is_ok());
  MESSAGE("unfetchable pin/add: " << st.to_string());
  CHECK(took >= 1900ms);
  CHECK(took < 10s);
}

TEST_CASE("connector: a daemon that is down fails fast and clearly") {
  // A port nothing listens on.
  net::asio::io_context io;
  net::tcp::acceptor probe(io, net::tcp::endpoint(net::asio::ip::make_address("127.0.0.1"), 0));
  uint16_t port = probe.local_endpoint().port();
  probe.close();
  IpfsClient ipfs(io, options(port));
  auto start = std::chrono::steady_clock::now();
  auto id = run(io, ipfs.id());
  CHECK(std::chrono::steady_clock::now() - start < 3s);
  REQUIRE_FALSE(id.is_ok());
  CHECK(id.status().code() == Code::unavailable);
  CHECK(id.status().message().find("is the IPFS daemon running") != std::string::npos);
}

TEST_CASE("tracker: pin, direct, remote and unpin follow the state") {
  Peer peer(shared().daemon.port());
  Cid rec = peer.put_block("tracker recursive");
  Cid dir = peer.put_block("tracker direct");
  Cid theirs = peer.put_block("tracker remote");

  peer.pin(rec);
  CHECK(peer.reaches(rec, TrackerStatus::pinned));
  CHECK(peer.in_ipfs(rec) == IpfsPin::recursive);

  Pin d;
  d.cid = dir;
  d.mode = Mode::direct;
  d.max_depth = 0;
  d.replication_factor_min = d.replication_factor_max = 1;
  d.allocations = {"me"};
  REQUIRE(peer.replica->put(pin_key(dir), encode_pin(d)).is_ok());
  CHECK(peer.reaches(dir, TrackerStatus::pinned));
  CHECK(peer.in_ipfs(dir) == IpfsPin::direct);

  peer.pin(theirs, {"someone-else"});
  CHECK(peer.reaches(theirs, TrackerStatus::remote));
  CHECK(peer.in_ipfs(theirs) == IpfsPin::none);

  peer.unpin(rec);
  peer.unpin(dir);
  CHECK(peer.reaches(rec, TrackerStatus::unpinned));
  CHECK(peer.reaches(dir, TrackerStatus::unpinned));
  CHECK(eventually(peer.io, [&] { return peer.tracker->queue().size() == 0; }));
  CHECK(peer.in_ipfs(rec) == IpfsPin::none);
  CHECK(peer.in_ipfs(dir) == IpfsPin::none);
}

TEST_CASE("tracker: a pin allocated elsewhere queues an unpin only if IPFS may hold it") {
  Peer peer(shared().daemon.port());
  // Never pinned here and not in IPFS: nothing to do (a peer joining a
  // large cluster would otherwise queue an unpin for every pin).
  Cid theirs = peer.put_block("tracker held: theirs");
  peer.pin(theirs, {"someone-else"});
  CHECK(peer.tracker->queue().find(theirs) == nullptr);
  CHECK(peer.status(theirs) == TrackerStatus::remote);

  // Pinned here, then moved away: unpinned.
  Cid moved = peer.put_block("tracker held: moved");
  peer.pin(moved);
  REQUIRE(peer.reaches(moved, TrackerStatus::pinned));
  peer.pin(moved, {"someone-else"});
  CHECK(peer.tracker->queue().find(moved) != nullptr);
  CHECK(eventually(peer.io, [&] { return peer.in_ipfs(moved) == IpfsPin::none; }));

  // In IPFS when the tracker last listed it, then allocated elsewhere by
  // the state: unpinned, as a pin moved away is.
  Cid listed = peer.put_block("tracker held: listed");
  REQUIRE(run(peer.io, peer.ipfs.pin_add(listed, Mode::recursive)).is_ok());
  REQUIRE(run(peer.io, peer.tracker->ipfs_lists(0ms)) != nullptr);  // the listing
  peer.pin(listed, {"someone-else"});
  CHECK(peer.tracker->queue().find(listed) != nullptr);
  CHECK(eventually(peer.io, [&] { return peer.in_ipfs(listed) == IpfsPin::none; }));
  CHECK(eventually(peer.io, [&] { return peer.tracker->queue().size() == 0; }));
}

TEST_CASE("tracker: an unfetchable CID ends in pin_error and is retried") {
  TrackerOptions topts;
  topts.queue.retry_base = 500ms;
  topts.queue.max_retries = 2;
  Peer peer(shared().daemon.port(), topts);
  Cid gone = missing_cid("tracker");
  peer.pin(gone);
  CHECK(peer.reaches(gone, TrackerStatus::pinning, 5s));
  REQUIRE(peer.reaches(gone, TrackerStatus::pin_error, 10s));
  PinInfo info = run(peer.io, peer.tracker->status(gone));
  CHECK(info.attempts >= 1);
  CHECK_FALSE(info.error.empty());
  // Retried by itself: the attempt count climbs to max_retries + 1.
  CHECK(eventually(peer.io, [&] { return peer.tracker->queue().find(gone)->attempts == 3; }, 20s));
  // The state stops asking for it: the failed operation is replaced.
  peer.unpin(gone);
  CHECK(peer.reaches(gone, TrackerStatus::unpinned, 10s));
}

TEST_CASE("tracker: an unpin behind its back shows unexpectedly_unpinned; recover fixes it") {
  Peer peer(shared().daemon.port());
  Cid cid = peer.put_block("tracker recover");
  peer.pin(cid);
  REQUIRE(peer.reaches(cid, TrackerStatus::pinned));
  REQUIRE(run(peer.io, peer.ipfs.pin_rm(cid)).is_ok());
  CHECK(peer.status(cid) == TrackerStatus::unexpectedly_unpinned);
  // The listing agrees with the single status.
  std::optional<TrackerStatus> listed;
  REQUIRE(run(peer.io, peer.tracker->status_all([&](const PinInfo& i) {
            if (i.cid == cid) listed = i.status;
            return true;
          })).is_ok());
  CHECK(listed == TrackerStatus::unexpectedly_unpinned);
  run(peer.io, peer.tracker->recover(cid));
  CHECK(peer.reaches(cid, TrackerStatus::pinned));
  CHECK(peer.in_ipfs(cid) == IpfsPin::recursive);
  peer.unpin(cid);
  CHECK(peer.reaches(cid, TrackerStatus::unpinned));
}

TEST_CASE("tracker: recover unpins what moved away or was removed while its unpin was lost") {
  Peer peer(shared().daemon.port());
  Cid moved = peer.put_block("tracker lost unpin: moved");
  Cid removed = peer.put_block("tracker lost unpin: removed");
  Cid own = peer.put_block("tracker lost unpin: pinned in IPFS by its user");
  // The state changes reach the store but not the tracker, as when the
  // daemon is killed between the commit and the unpin.
  peer.hooked = false;
  peer.pin(moved, {"someone-else"});
  Pin p = peer.pin(removed);
  peer.unpin(removed);
  REQUIRE(peer.replica->put(removed_key(removed), encode_removed(p.timestamp)).is_ok());
  for (const Cid& c : {moved, removed, own})
    REQUIRE(run(peer.io, peer.ipfs.pin_add(c, Mode::recursive)).is_ok());
  auto queued = run(peer.io, peer.tracker->recover_all());
  REQUIRE(queued.is_ok());
  CHECK(*queued == 2);
  CHECK(eventually(peer.io, [&] { return peer.tracker->queue().size() == 0; }));
  CHECK(peer.in_ipfs(moved) == IpfsPin::none);
  CHECK(peer.in_ipfs(removed) == IpfsPin::none);
  // A CID the cluster never removed is not the tracker's to unpin.
  CHECK(peer.in_ipfs(own) == IpfsPin::recursive);
  REQUIRE(run(peer.io, peer.ipfs.pin_rm(own)).is_ok());
}

TEST_CASE("tracker: pin_update moves the pin to the new CID") {
  Peer peer(shared().daemon.port());
  Cid from = peer.put_block("update from");
  Cid to = peer.put_block("update to");
  peer.pin(from);
  REQUIRE(peer.reaches(from, TrackerStatus::pinned));
  Pin p;
  p.cid = to;
  p.pin_update = from;
  p.replication_factor_min = p.replication_factor_max = 1;
  p.allocations = {"me"};
  REQUIRE(peer.replica->put(pin_key(to), encode_pin(p)).is_ok());
  CHECK(peer.reaches(to, TrackerStatus::pinned));
  CHECK(peer.in_ipfs(to) == IpfsPin::recursive);
  peer.unpin(from);
  peer.unpin(to);
  CHECK(peer.reaches(from, TrackerStatus::unpinned));
  CHECK(peer.reaches(to, TrackerStatus::unpinned));
}

TEST_CASE("tracker: IPFS restarted mid-queue; every pin lands once it is back") {
  TrackerOptions topts;
  topts.queue.concurrency = 2;
  topts.queue.retry_base = 300ms;
  topts.queue.retry_max = 1s;
  topts.queue.max_retries = 100;
  Peer peer(shared().daemon.port(), topts);
  std::vector<Cid> cids;
  for (int i = 0; i < 40; i++) cids.push_back(peer.put_block("restart " + std::to_string(i)));
  shared().daemon.stop();
  for (const auto& c : cids) peer.pin(c);
  // With IPFS down, operations fail and wait for their retry.
  CHECK(eventually(peer.io, [&] {
    const Op* op = peer.tracker->queue().find(cids[0]);
    return op && op->attempts >= 1;
  }));
  shared().daemon.start();
  CHECK(eventually(peer.io, [&] { return peer.tracker->queue().size() == 0; }, 60s));
  size_t pinned = 0;
  REQUIRE(run(peer.io, peer.tracker->status_all([&](const PinInfo& i) {
            pinned += i.status == TrackerStatus::pinned;
            return true;
          })).is_ok());
  CHECK(pinned == cids.size());
  for (const auto& c : cids) peer.unpin(c);
  CHECK(eventually(peer.io, [&] { return peer.tracker->queue().size() == 0; }));
}

namespace {

// Anonymous resident memory of this process (heap, not the LMDB map).
size_t rss_anon_kb() {
  FILE* f = std::fopen("/proc/self/status", "r");
  char line[256];
  size_t kb = 0;
  while (f && std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "RssAnon: %zu kB", &kb) == 1) break;
  if (f) std::fclose(f);
  return kb;
}

}  // namespace

TEST_CASE("tracker: listing 1,000,000 pins streams with flat memory") {
#ifdef __SANITIZE_ADDRESS__
  // ASan's allocator and shadow memory make RSS meaningless; check the
  // listing only, on fewer pins.
  constexpr size_t kPins = 100'000;
  constexpr bool kMeasure = false;
#else
  constexpr size_t kPins = 1'000'000;
  constexpr bool kMeasure = true;
#endif
  Peer peer(shared().daemon.port());
  Pin p;
  p.replication_factor_min = p.replication_factor_max = 1;
  p.allocations = {"someone-else"};  // remote: the tracker does not pin them
  // Without the hook: it would queue an unpin per remote pin, which is not
  // what is measured here.
  peer.replica->set_hook({});
  auto start = std::chrono::steady_clock::now();
  for (size_t done = 0; done < kPins;) {
    Batch batch;
    bool ok = true;
    for (size_t i = 0; i < 100'000; i++, done++) {
      std::string s = "list " + std::to_string(done);
      p.cid = Cid::sha256(kCodecRaw, data_of(s));
      ok = ok && batch.put(pin_key(p.cid), encode_pin(p)).is_ok();
    }
    REQUIRE(ok);
    REQUIRE(peer.replica->commit(batch).is_ok());
  }
  MESSAGE("wrote " << kPins << " pins in "
                   << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
                   << " s");
  malloc_trim(0);  // hand freed memory back, so that holding the list would show
  size_t before = rss_anon_kb(), peak = before, listed = 0, remote = 0;
  start = std::chrono::steady_clock::now();
  REQUIRE(run(peer.io, peer.tracker->status_all([&](const PinInfo& i) {
            listed++;
            remote += i.status == TrackerStatus::remote;
            if (listed % 50'000 == 0) peak = std::max(peak, rss_anon_kb());
            return true;
          })).is_ok());
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  MESSAGE("listed " << listed << " pins in " << secs << " s; anonymous memory " << before / 1024
                    << " MB before, peak " << peak / 1024 << " MB during");
  CHECK(listed == kPins);
  CHECK(remote == kPins);
  // Holding the list would take well over 100 MB; streaming adds a few.
  if (kMeasure) CHECK(peak - before < 32 * 1024);
}
