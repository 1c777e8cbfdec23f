// The node over real sockets on 127.0.0.1: connecting and peer exchange,
// handshake refusals, raw-socket attacks on the listener and on an
// authenticated session, RPC policies, time-outs, streams, limits and lanes,
// slow peers, pubsub, stop(), reconnection and the idle time-out.
//
// Every test runs its io_context on the test thread until a condition holds
// or a deadline passes (run_until). Fixed waits appear only where the point
// is that something does NOT happen within them (a peer that pings stays
// connected, a listener without descriptors does not spin). Raw
// clients are plain Asio sockets on the same io_context; the "authenticated"
// ones drive SecureHandshake and the mux framing by hand, so they can send
// what a well-behaved Node never would.
#include "net/asio.h"

#include <boost/asio/read.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "net/mux.h"
#include "net/node.h"
#include "net/secure.h"
#include "net/wire.h"

using namespace trellis;
using namespace trellis::net;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

Bytes bytes_of(std::string_view s) {
  auto v = as_bytes(s);
  return Bytes(v.begin(), v.end());
}
std::string str_of(ByteView b) { return std::string(as_chars(b)); }
bool contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}
long ms_since(Clock::time_point t) {
  return static_cast<long>(std::chrono::duration_cast<milliseconds>(Clock::now() - t).count());
}

// Runs `io` in small slices until pred() holds (true) or `timeout` passes
// (false).
template <class Pred>
bool run_until(asio::io_context& io, Pred&& pred, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!pred()) {
    if (Clock::now() >= deadline) return false;
    if (io.stopped()) io.restart();
    io.run_for(5ms);
    if (io.stopped() && !pred()) std::this_thread::sleep_for(1ms);  // nothing queued
  }
  return true;
}

// A coroutine's result, once it has finished.
template <class T>
using Later = std::shared_ptr<std::optional<T>>;

template <class T>
Later<T> spawn(asio::io_context& io, awaitable<T> a) {
  auto out = std::make_shared<std::optional<T>>();
  asio::co_spawn(
      io, [out, a = std::move(a)]() mutable -> awaitable<void> { out->emplace(co_await std::move(a)); },
      asio::detached);
  return out;
}

template <class T>
T wait(asio::io_context& io, const Later<T>& l, milliseconds timeout = 5000ms) {
  REQUIRE_MESSAGE(run_until(io, [&] { return l->has_value(); }, timeout),
                  "the coroutine did not finish within " << timeout.count() << " ms");
  return std::move(**l);
}

awaitable<void> sleep_for(milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  t.expires_after(d);
  error_code ec;
  co_await t.async_wait(with_ec(ec));
}

Multiaddr loopback0() { return *Multiaddr::parse("/ip4/127.0.0.1/tcp/0"); }

// Fast timings for tests; each test tightens what it exercises.
NodeOptions test_options() {
  NodeOptions o;
  o.listen = {loopback0()};
  o.dial_interval = 50ms;
  o.dial_timeout = 2000ms;
  o.peerstore.backoff_base = 100ms;
  o.peerstore.backoff_max = 1000ms;
  o.connection.handshake_timeout = 3000ms;
  return o;
}

tcp::endpoint endpoint_of(const Node& n) {
  auto addrs = n.listen_addrs();
  REQUIRE(!addrs.empty());
  return tcp::endpoint(asio::ip::make_address_v4(addrs[0].host), addrs[0].port);
}

using Log = std::vector<std::string>;

// An io_context and the nodes on it. On destruction every node is stopped
// and the io_context drained before the nodes are destroyed (their
// coroutines refer to them).
struct Net {
  asio::io_context io;
  ClusterSecret secret = ClusterSecret::generate();
  std::vector<std::unique_ptr<Node>> nodes;
  std::map<const Node*, std::shared_ptr<Log>> logs;

  Node& add(NodeOptions o = test_options(), std::optional<ClusterSecret> s = std::nullopt,
            std::optional<Identity> id = std::nullopt) {
    auto log = std::make_shared<Log>();
    static const bool verbose = std::getenv("TRELLIS_TEST_LOG") != nullptr;
    o.log = [log](LogLevel, const std::string& line) {
      log->push_back(line);
      if (verbose) std::cerr << "  [node] " << line << "\n";
    };
    nodes.push_back(std::make_unique<Node>(io, id ? *id : Identity::generate(), s ? *s : secret,
                                           std::move(o)));
    Node& n = *nodes.back();
    logs[&n] = log;
    Status st = n.start();
    REQUIRE_MESSAGE(st, st.to_string());
    return n;
  }

  bool logged(const Node& n, std::string_view part) const {
    for (const auto& l : *logs.at(&n))
      if (contains(l, part)) return true;
    return false;
  }
  std::string log_text(const Node& n) const {
    std::string out;
    for (const auto& l : *logs.at(&n)) out += l + "\n";
    return out;
  }

  // Stops and destroys one node, leaving the others running.
  void remove(Node& n) {
    n.stop();
    // The node's loops end on the cancellations stop() posts; run them.
    if (io.stopped()) io.restart();
    for (int i = 0; i < 1000 && io.poll() > 0; ++i) {
    }
    logs.erase(&n);
    std::erase_if(nodes, [&](const auto& p) { return p.get() == &n; });
  }

  bool mesh(std::initializer_list<const Node*> ns) const {
    for (auto* a : ns)
      for (auto* b : ns)
        if (a != b && !a->is_connected(b->id())) return false;
    return true;
  }

  ~Net() {
    // Callbacks may refer to the test's locals, which are gone by now.
    for (auto& n : nodes) n->on_peer(nullptr);
    for (auto& n : nodes) n->stop();
    io.restart();
    io.run_for(3000ms);
    nodes.clear();
  }
};

NodeOptions bootstrap_to(NodeOptions o, std::initializer_list<const Node*> peers) {
  for (auto* p : peers)
    for (const auto& a : p->listen_addrs()) o.bootstrap.push_back(a);
  return o;
}

// ---- a hand-driven client ----

// A TCP client that speaks the node's framing itself: 2-byte big-endian
// length + Noise message, then mux chunks [lane][flags][data].
class RawPeer {
 public:
  explicit RawPeer(asio::io_context& io) : sock_(io) {}

  tcp::socket& socket() { return sock_; }
  const Identity& identity() const { return id_; }

  awaitable<error_code> connect(tcp::endpoint ep) {
    error_code ec;
    co_await sock_.async_connect(ep, with_ec(ec));
    co_return ec;
  }

  awaitable<error_code> write(Bytes data) {
    error_code ec;
    co_await asio::async_write(sock_, asio::buffer(data), with_ec(ec));
    co_return ec;
  }

  static Bytes frame(ByteView body) {
    Bytes f{static_cast<uint8_t>(body.size() >> 8), static_cast<uint8_t>(body.size())};
    f.insert(f.end(), body.begin(), body.end());
    return f;
  }

  awaitable<Status> read_frame(Bytes& out) {
    uint8_t len[2];
    error_code ec;
    co_await asio::async_read(sock_, asio::buffer(len), with_ec(ec));
    if (ec) co_return Status(Code::unavailable, ec.message());
    out.resize(size_t{len[0]} << 8 | len[1]);
    co_await asio::async_read(sock_, asio::buffer(out), with_ec(ec));
    if (ec) co_return Status(Code::unavailable, ec.message());
    co_return Status::ok();
  }

  // The initiator's side of the secure handshake.
  awaitable<Status> handshake(const ClusterSecret& secret, PeerId expected) {
    auto hs = SecureHandshake::initiator(id_, secret, std::move(expected));
    Bytes f;
    while (!hs.done()) {
      if (hs.wants_write()) {
        auto m = hs.write_message();
        if (!m) co_return m.status();
        Bytes out = frame(*m);
        if (auto ec = co_await write(std::move(out))) co_return Status(Code::unavailable, ec.message());
      } else {
        Status st = co_await read_frame(f);
        if (!st) co_return st;
        if (Status rs = hs.read_message(f); !rs) co_return rs;
      }
    }
    auto s = hs.finish();
    if (!s) co_return s.status();
    session_.emplace(std::move(*s));
    co_return Status::ok();
  }

  awaitable<error_code> send_chunk(uint8_t lane, uint8_t flags, ByteView data) {
    Bytes plain{lane, flags};
    plain.insert(plain.end(), data.begin(), data.end());
    Bytes out(2);
    session_->encrypt(plain, out);
    out[0] = static_cast<uint8_t>((out.size() - 2) >> 8);
    out[1] = static_cast<uint8_t>(out.size() - 2);
    co_return co_await write(std::move(out));
  }

  awaitable<error_code> send(const Message& m, Lane lane = Lane::control) {
    Bytes b = encode(m);
    size_t at = 0;
    do {
      size_t n = std::min(kMaxChunkData, b.size() - at);
      bool last = at + n == b.size();
      auto ec = co_await send_chunk(static_cast<uint8_t>(lane), last ? kChunkLast : 0,
                                    ByteView(b).subspan(at, n));
      if (ec) co_return ec;
      at += n;
    } while (at < b.size());
    co_return error_code();
  }

  // The next whole message from the node.
  awaitable<Result<Message>> recv() {
    Bytes f, plain;
    for (;;) {
      Status st = co_await read_frame(f);
      if (!st) co_return st;
      st = session_->decrypt(f, plain);
      if (!st) co_return st;
      auto c = rx_.on_chunk(plain);
      if (!c) co_return c.status();
      if (!*c) continue;
      co_return decode((*c)->message);
    }
  }

  // The next Response, skipping everything else (Hello, pings, requests).
  awaitable<Result<Response>> recv_response() {
    for (;;) {
      auto m = co_await recv();
      if (!m) co_return m.status();
      if (auto* r = std::get_if<Response>(&*m)) co_return std::move(*r);
    }
  }

  // Reads and discards until the node closes the connection; the error that
  // ended it (eof or connection reset).
  awaitable<error_code> until_closed() {
    std::vector<uint8_t> buf(64 << 10);
    for (;;) {
      error_code ec;
      co_await sock_.async_read_some(asio::buffer(buf), with_ec(ec));
      if (ec) co_return ec;
    }
  }

 private:
  tcp::socket sock_;
  Identity id_ = Identity::generate();
  std::optional<SecureSession> session_;
  MuxReceiver rx_{kMaxMessageBytes};
};

bool closed_by_peer(const error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset;
}

// Connects `raw` to `a` and completes the handshake; returns its peer ID
// once `a` counts it as connected. The raw peer reads nothing after that.
PeerId connect_raw(Net& net, RawPeer& raw, Node& a) {
  auto hello = [&]() -> awaitable<Status> {
    if (auto ec = co_await raw.connect(endpoint_of(a))) co_return Status(Code::unavailable, ec.message());
    co_return co_await raw.handshake(net.secret, a.id());
  };
  Status hs = wait(net.io, spawn(net.io, hello()));
  REQUIRE_MESSAGE(hs, hs.to_string());
  const PeerId id = raw.identity().id();
  REQUIRE(run_until(net.io, [&] { return a.is_connected(id); }, 2000ms));
  return id;
}

// When a socket's reads end, and why.
struct CloseWatch {
  std::optional<Clock::time_point> at;
  error_code ec;
};

awaitable<void> watch_close(tcp::socket& s, std::shared_ptr<CloseWatch> w) {
  std::vector<uint8_t> buf(4096);
  for (;;) {
    error_code ec;
    co_await s.async_read_some(asio::buffer(buf), with_ec(ec));
    if (ec) {
      w->ec = ec;
      w->at = Clock::now();
      co_return;
    }
  }
}

// A method body: waits until the caller cancels or disconnects.
awaitable<void> until_cancelled(ServerCall& call) {
  while (!call.cancelled()) co_await sleep_for(10ms);
}

}  // namespace

TEST_SUITE("node") {
  TEST_CASE("node: two nodes connect and exchange Hello; a third learns the second by peer exchange") {
    Net net;
    Node& a = net.add();
    std::vector<std::pair<PeerId, bool>> a_events;
    a.on_peer([&](const PeerId& p, bool up) { a_events.emplace_back(p, up); });

    Node& b = net.add(bootstrap_to(test_options(), {&a}));
    REQUIRE(run_until(net.io, [&] { return net.mesh({&a, &b}); }, 5000ms));
    CHECK(a.connected() == std::vector<PeerId>{b.id()});
    CHECK(b.connected() == std::vector<PeerId>{a.id()});
    REQUIRE(a_events.size() == 1);
    CHECK(a_events[0] == std::pair(b.id(), true));
    CHECK(net.logged(a, "connected to " + b.id().to_string()));
    CHECK(net.logged(b, "connected to " + a.id().to_string()));

    // b connected inbound to a, so a can only know where b listens from b's
    // Hello.
    const Multiaddr b_addr = b.listen_addrs().at(0).without_peer();
    auto knows_b_addr = [&] {
      auto* r = a.peerstore().find(b.id());
      return r && std::find(r->addrs.begin(), r->addrs.end(), b_addr) != r->addrs.end();
    };
    REQUIRE(run_until(net.io, knows_b_addr, 5000ms));
    CHECK(a.peerstore().find(b.id())->source == PeerSource::inbound);

    Node& c = net.add(bootstrap_to(test_options(), {&a}));
    REQUIRE_MESSAGE(run_until(net.io, [&] { return net.mesh({&a, &b, &c}); }, 5000ms),
                    "c's log:\n" << net.log_text(c));
    for (Node* n : {&a, &b, &c}) CHECK(n->connected().size() == 2);
    auto* rec = c.peerstore().find(b.id());
    REQUIRE(rec != nullptr);
    CHECK(rec->source != PeerSource::bootstrap);  // c was only told about a
    CHECK(std::find(rec->addrs.begin(), rec->addrs.end(), b_addr) != rec->addrs.end());
    CHECK(net.logged(c, "connected to " + b.id().to_string() + " at " + b_addr.host + ":" +
                            std::to_string(b_addr.port) + " (dialed)"));
    CHECK(c.counters().dials >= 2);
    CHECK(c.counters().handshake_failures == 0);
  }

  TEST_CASE("node: two nodes dialing each other at once keep one connection") {
    for (int round = 0; round < 5; ++round) {
      CAPTURE(round);
      Net net;
      Node& a = net.add();
      Node& b = net.add();
      a.dial(b.listen_addrs().at(0));
      b.dial(a.listen_addrs().at(0));
      REQUIRE(run_until(net.io, [&] { return net.mesh({&a, &b}); }, 5000ms));
      // A call may still land on the connection that loses the tie-break
      // (it then fails with "replaced by a newer connection"); once both
      // directions answer, the survivor carries on.
      for (auto [x, y] : {std::pair{&a, &b}, {&b, &a}}) {
        bool answered = false;
        for (int attempt = 0; attempt < 3 && !answered; ++attempt) {
          auto r = wait(net.io, spawn(net.io, x->call(y->id(), "id", {}, 2000ms)));
          answered = r.is_ok();
          if (!r) CHECK_MESSAGE(contains(r.status().message(), "replaced"), r.status().to_string());
        }
        CHECK(answered);
      }
      CHECK(net.mesh({&a, &b}));
      CHECK(a.counters().dials == 1);
      CHECK(b.counters().dials == 1);
      // Losing the tie-break is not a failure.
      CHECK_MESSAGE(a.counters().handshake_failures == 0, net.log_text(a));
      CHECK_MESSAGE(b.counters().handshake_failures == 0, net.log_text(b));
    }
  }

  TEST_CASE("node: a wrong cluster secret connects neither side and leaves the listener healthy") {
    Net net;
    Node& a = net.add();
    int ups = 0;
    a.on_peer([&](const PeerId&, bool up) { ups += up; });
    Node& b = net.add(bootstrap_to(test_options(), {&a}), ClusterSecret::generate());
    b.on_peer([&](const PeerId&, bool up) { ups += up; });

    REQUIRE(run_until(
        net.io, [&] { return a.counters().handshake_failures >= 1 && b.counters().handshake_failures >= 1; },
        5000ms));
    CHECK(ups == 0);
    CHECK(a.connected().empty());
    CHECK(b.connected().empty());
    CHECK(net.logged(a, "wrong cluster secret"));
    CHECK(net.logged(b, "handshake with " + a.id().to_string()));
    CHECK(net.logged(b, "did not confirm the session (a wrong cluster secret?)"));
    CHECK_FALSE(net.logged(b, "connected to"));

    // The listener still serves peers that know the secret.
    Node& c = net.add(bootstrap_to(test_options(), {&a}));
    REQUIRE(run_until(net.io, [&] { return net.mesh({&a, &c}); }, 5000ms));
    CHECK_FALSE(a.is_connected(b.id()));
    CHECK(ups == 1);
  }

  TEST_CASE("node: a bootstrap address naming another peer ID is refused") {
    Net net;
    Node& a = net.add();
    const PeerId someone_else = Identity::generate().id();
    NodeOptions o = test_options();
    o.bootstrap.push_back(a.listen_addrs().at(0).without_peer().with_peer(someone_else));
    Node& b = net.add(o);
    int ups = 0;
    a.on_peer([&](const PeerId&, bool up) { ups += up; });
    b.on_peer([&](const PeerId&, bool up) { ups += up; });

    REQUIRE(run_until(
        net.io, [&] { return a.counters().handshake_failures >= 1 && b.counters().handshake_failures >= 1; },
        5000ms));
    CHECK(ups == 0);
    CHECK(a.connected().empty());
    CHECK(b.connected().empty());
    CHECK_MESSAGE(net.logged(b, "expected peer " + someone_else.to_string() + ", got " + a.id().to_string()),
                  net.log_text(b));
    CHECK(b.peerstore().find(someone_else)->failures >= 1);
  }

  TEST_CASE("node: a silent client is closed after the handshake timeout") {
    Net net;
    NodeOptions o = test_options();
    o.connection.handshake_timeout = 300ms;
    Node& a = net.add(o);

    tcp::socket s(net.io);
    s.connect(endpoint_of(a));
    auto start = Clock::now();
    auto w = std::make_shared<CloseWatch>();
    asio::co_spawn(net.io, watch_close(s, w), asio::detached);
    REQUIRE(run_until(net.io, [&] { return w->at.has_value(); }, 3000ms));
    auto took = std::chrono::duration_cast<milliseconds>(*w->at - start).count();
    CHECK_MESSAGE(closed_by_peer(w->ec), w->ec.message());
    CHECK(took >= 250);
    CHECK(took < 2000);
    CHECK(a.counters().inbound == 1);
    CHECK(a.counters().handshake_failures == 1);
    CHECK(net.logged(a, "handshake timed out"));
  }

  TEST_CASE("node: garbage, truncated and empty handshake frames are closed promptly") {
    Net net;
    Node& a = net.add();  // handshake timeout 3 s: "promptly" means well before it
    const auto ep = endpoint_of(a);

    std::vector<Bytes> attacks;
    attacks.push_back(RawPeer::frame(Bytes(48, 0xab)));   // a message 1 that does not decrypt
    attacks.push_back(RawPeer::frame(Bytes(10, 0x01)));   // a truncated message 1
    attacks.push_back(Bytes{0, 0});                       // a frame length of 0
    attacks.push_back(Bytes{0xff, 0xff, 1, 2, 3});        // a partial frame, then end of stream
    Bytes junk(100 << 10);                                // 100 KiB of noise
    uint32_t x = 12345;
    for (auto& v : junk) v = static_cast<uint8_t>((x = x * 1103515245 + 12345) >> 16);
    attacks.push_back(junk);

    std::vector<std::unique_ptr<tcp::socket>> socks;
    std::vector<std::shared_ptr<CloseWatch>> watches;
    const auto start = Clock::now();
    for (size_t i = 0; i < attacks.size(); ++i) {
      auto& s = *socks.emplace_back(std::make_unique<tcp::socket>(net.io));
      s.connect(ep);
      auto w = watches.emplace_back(std::make_shared<CloseWatch>());
      asio::co_spawn(net.io, watch_close(s, w), asio::detached);
      asio::async_write(s, asio::buffer(attacks[i]), [&s, i](const error_code&, size_t) {
        if (i == 3) {  // the partial frame: end the stream
          error_code ec;
          s.shutdown(tcp::socket::shutdown_send, ec);
        }
      });
    }
    REQUIRE(run_until(net.io,
                      [&] {
                        return std::all_of(watches.begin(), watches.end(),
                                           [](auto& w) { return w->at.has_value(); });
                      },
                      5000ms));
    for (size_t i = 0; i < watches.size(); ++i) {
      CAPTURE(i);
      CHECK_MESSAGE(closed_by_peer(watches[i]->ec), watches[i]->ec.message());
      CHECK(std::chrono::duration_cast<milliseconds>(*watches[i]->at - start).count() < 1000);
    }
    CHECK(a.counters().inbound == attacks.size());
    CHECK(run_until(net.io, [&] { return a.counters().handshake_failures == attacks.size(); }, 1000ms));
    CHECK(net.logged(a, "empty frame"));
    CHECK(net.logged(a, "truncated"));
    CHECK(a.connected().empty());

    Node& b = net.add(bootstrap_to(test_options(), {&a}));
    CHECK(run_until(net.io, [&] { return net.mesh({&a, &b}); }, 5000ms));
  }

  TEST_CASE("node: clients over max_handshakes are refused at once; the listener recovers") {
    Net net;
    NodeOptions o = test_options();
    o.max_handshakes = 4;
    o.connection.handshake_timeout = 700ms;
    Node& a = net.add(o);
    const auto ep = endpoint_of(a);

    constexpr size_t kClients = 10;
    std::vector<std::unique_ptr<tcp::socket>> socks;
    std::vector<std::shared_ptr<CloseWatch>> watches;
    const auto start = Clock::now();
    for (size_t i = 0; i < kClients; ++i) {
      auto& s = *socks.emplace_back(std::make_unique<tcp::socket>(net.io));
      s.connect(ep);
      asio::co_spawn(net.io, watch_close(s, watches.emplace_back(std::make_shared<CloseWatch>())),
                     asio::detached);
    }
    REQUIRE(run_until(net.io,
                      [&] {
                        return std::all_of(watches.begin(), watches.end(),
                                           [](auto& w) { return w->at.has_value(); });
                      },
                      5000ms));
    size_t quick = 0, timed_out = 0;
    for (auto& w : watches) {
      CHECK_MESSAGE(closed_by_peer(w->ec), w->ec.message());
      auto t = std::chrono::duration_cast<milliseconds>(*w->at - start).count();
      if (t < 350) ++quick;
      else if (t >= 600 && t < 3000) ++timed_out;
    }
    CHECK(quick == kClients - 4);
    CHECK(timed_out == 4);
    CHECK(a.counters().inbound == 4);
    CHECK(a.counters().handshake_failures == 4);

    Node& b = net.add(bootstrap_to(test_options(), {&a}));
    CHECK(run_until(net.io, [&] { return net.mesh({&a, &b}); }, 5000ms));
  }

  TEST_CASE("node: running out of file descriptors does not make the listener spin") {
    Net net;
    Node& a = net.add();
    const auto ep = endpoint_of(a);
    // Clients waiting in the accept queue (the node has not run yet).
    std::vector<std::unique_ptr<tcp::socket>> clients;
    for (int i = 0; i < 3; ++i) {
      clients.push_back(std::make_unique<tcp::socket>(net.io));
      clients.back()->connect(ep);
    }
    // Lower the descriptor limit to the lowest free descriptor: every
    // accept() now fails with EMFILE while the clients wait.
    rlimit old{};
    REQUIRE(getrlimit(RLIMIT_NOFILE, &old) == 0);
    const int lowest_free = ::open("/dev/null", O_RDONLY);
    REQUIRE(lowest_free >= 0);
    ::close(lowest_free);
    rlimit low = old;
    low.rlim_cur = static_cast<rlim_t>(lowest_free);
    REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0);
    run_until(net.io, [] { return false; }, 300ms);
    REQUIRE(setrlimit(RLIMIT_NOFILE, &old) == 0);

    size_t failures = 0;
    for (const auto& l : *net.logs.at(&a)) failures += contains(l, "accept failed");
    MESSAGE(failures << " failed accepts logged in 300 ms without descriptors");
    CHECK(failures >= 1);
    CHECK(failures < 50);  // retried at a measured pace, not in a busy loop
    // With descriptors back, the waiting clients are accepted.
    CHECK(run_until(net.io, [&] { return a.counters().inbound == clients.size(); }, 2000ms));
  }

  TEST_CASE("node: an authenticated peer sending an oversize or malformed message is disconnected") {
    Net net;
    Node& a = net.add();
    const auto ep = endpoint_of(a);

    enum class Attack { oversize, bad_msgpack, unknown_lane, bad_ciphertext };
    struct Outcome {
      Status handshake;
      Status sanity;  // an "id" call before the attack
      error_code closed;
      long ms = 0;
      PeerId raw;
    };
    auto run = [&](Attack attack) -> awaitable<Outcome> {
      Outcome out;
      RawPeer p(net.io);
      out.raw = p.identity().id();
      if (auto ec = co_await p.connect(ep)) {
        out.handshake = Status(Code::unavailable, ec.message());
        co_return out;
      }
      out.handshake = co_await p.handshake(net.secret, a.id());
      if (!out.handshake) co_return out;
      // The session works: a well-formed call is answered.
      const Message id_call = Request{1, "id", {}};
      co_await p.send(id_call);
      auto r = co_await p.recv_response();
      if (!r) out.sanity = r.status();
      else if (r->id != 1 || r->code != Code::ok) out.sanity = Status(Code::corrupt, "bad response");
      // (No temporaries inside co_await in the branches below: g++ 12 destroys
      // those of branches not taken at the end of the coroutine.)
      const Bytes big(kMaxChunkData, 0x5a), junk{0xc1, 0xc1, 0xc1}, ping = encode(Ping{1});
      Bytes garbage_frame = RawPeer::frame(Bytes(64, 0x42));
      auto start = Clock::now();
      switch (attack) {
        case Attack::oversize: {
          // Chunks without the last flag until the message is over the limit.
          for (size_t sent = 0; sent <= kMaxMessageBytes + kMaxChunkData; sent += big.size())
            if (co_await p.send_chunk(static_cast<uint8_t>(Lane::bulk), 0, big)) break;
          break;
        }
        case Attack::bad_msgpack:  // 0xc1 is never used in msgpack
          co_await p.send_chunk(static_cast<uint8_t>(Lane::control), kChunkLast, junk);
          break;
        case Attack::unknown_lane:
          co_await p.send_chunk(7, kChunkLast, ping);
          break;
        case Attack::bad_ciphertext:
          co_await p.write(std::move(garbage_frame));
          break;
      }
      out.closed = co_await p.until_closed();
      out.ms = ms_since(start);
      co_return out;
    };

    struct Case {
      Attack attack;
      const char* reason;
    };
    for (Case k : {Case{Attack::oversize, "-byte limit"},
                   Case{Attack::bad_msgpack, "bad message from peer"},
                   Case{Attack::unknown_lane, "unknown lane 7"},
                   Case{Attack::bad_ciphertext, "failed to decrypt"}}) {
      CAPTURE(k.reason);
      Outcome o = wait(net.io, spawn(net.io, run(k.attack)), 10000ms);
      REQUIRE_MESSAGE(o.handshake, o.handshake.to_string());
      CHECK_MESSAGE(o.sanity, o.sanity.to_string());
      CHECK_MESSAGE(closed_by_peer(o.closed), o.closed.message());
      CHECK(o.ms < 2000);
      CHECK_FALSE(a.is_connected(o.raw));
      CHECK_MESSAGE(net.logged(a, "disconnected from " + o.raw.to_string()), net.log_text(a));
      CHECK_MESSAGE(net.logged(a, k.reason), net.log_text(a));
    }
    CHECK(a.counters().handshake_failures == 0);
    CHECK(a.connected().empty());
  }


  // ---- RPC ----

  TEST_CASE("node: RPC policies: open, trusted and closed methods") {
    const Identity ib = Identity::generate(), ic = Identity::generate();
    Net net;
    NodeOptions so = test_options();
    so.trusted = [trusted = ib.id()](const PeerId& p) { return p == trusted; };
    Node& s = net.add(so);
    s.handle("echo", Policy::open, [](ServerCall& call) -> awaitable<Result<Bytes>> {
      co_return Bytes(call.body().begin(), call.body().end());
    });
    s.handle("secret", Policy::trusted, [](ServerCall& call) -> awaitable<Result<Bytes>> {
      co_return bytes_of("for " + call.peer().to_string());
    });
    s.handle("off", Policy::closed, [](ServerCall&) -> awaitable<Result<Bytes>> {
      co_return bytes_of("never");
    });
    s.handle("fails", Policy::open, [](ServerCall&) -> awaitable<Result<Bytes>> {
      co_return Status(Code::not_found, "no such thing");
    });
    Node& b = net.add(bootstrap_to(test_options(), {&s}), std::nullopt, ib);
    Node& c = net.add(bootstrap_to(test_options(), {&s}), std::nullopt, ic);
    REQUIRE(run_until(net.io, [&] { return net.mesh({&s, &b}) && net.mesh({&s, &c}); }, 5000ms));
    CHECK(s.trusted(b.id()));
    CHECK_FALSE(s.trusted(c.id()));

    auto call = [&](Node& from, std::string method, std::string body = "") {
      return wait(net.io, spawn(net.io, from.call(s.id(), method, bytes_of(body), 2000ms)));
    };
    auto r = call(b, "echo", "hi");
    REQUIRE_MESSAGE(r, r.status().to_string());
    CHECK(str_of(*r) == "hi");
    r = call(c, "echo", "yo");
    REQUIRE(r);
    CHECK(str_of(*r) == "yo");

    r = call(b, "secret");
    REQUIRE_MESSAGE(r, r.status().to_string());
    CHECK(str_of(*r) == "for " + b.id().to_string());
    r = call(c, "secret");
    REQUIRE_FALSE(r);
    CHECK(r.status().code() == Code::denied);
    CHECK(contains(r.status().message(), "trusted peers only"));
    r = call(c, "metrics");  // built in, trusted
    CHECK(r.status().code() == Code::denied);
    r = call(b, "metrics");
    CHECK_MESSAGE(r, r.status().to_string());

    for (Node* from : {&b, &c}) {
      for (const char* m : {"off", "no-such-method"}) {
        CAPTURE(m);
        r = call(*from, m);
        REQUIRE_FALSE(r);
        CHECK(r.status().code() == Code::unsupported);
        CHECK(contains(r.status().message(), "is not served here"));
      }
    }
    r = call(b, "fails");
    REQUIRE_FALSE(r);
    CHECK(r.status().code() == Code::not_found);
    CHECK(contains(r.status().message(), "no such thing"));
    CHECK(s.counters().calls_denied == 6);

    // A peer we are not connected to.
    auto nowhere = wait(net.io, spawn(net.io, b.call(Identity::generate().id(), "echo", {}, 2000ms)));
    CHECK(nowhere.status().code() == Code::unavailable);
    CHECK(contains(nowhere.status().message(), "not connected"));
  }

  TEST_CASE("node: an unanswered call fails with unavailable after its timeout; the callee sees the cancel") {
    bool server_saw_cancel = false;
    Net net;
    Node& s = net.add();
    s.handle("never", Policy::open, [&](ServerCall& call) -> awaitable<Result<Bytes>> {
      co_await until_cancelled(call);
      server_saw_cancel = true;
      co_return Bytes{};
    });
    Node& b = net.add(bootstrap_to(test_options(), {&s}));
    REQUIRE(run_until(net.io, [&] { return net.mesh({&s, &b}); }, 5000ms));

    const auto t0 = Clock::now();
    auto r = wait(net.io, spawn(net.io, b.call(s.id(), "never", {}, 300ms)));
    const long took = ms_since(t0);
    REQUIRE_FALSE(r);
    CHECK(r.status().code() == Code::unavailable);
    CHECK_MESSAGE(contains(r.status().message(), "did not answer never within 300 ms"),
                  r.status().message());
    CHECK(took >= 280);
    CHECK(took < 1500);
    CHECK(b.counters().call_timeouts == 1);
    CHECK(run_until(net.io, [&] { return server_saw_cancel; }, 2000ms));
    CHECK(net.mesh({&s, &b}));  // a time-out does not drop the connection
  }

  TEST_CASE("node: a streamed call delivers every item in order, then the response") {
    std::vector<std::string> got;
    Net net;
    Node& s = net.add();
    auto count = [](ServerCall& call) -> awaitable<Result<Bytes>> {
      const int n = std::stoi(str_of(call.body()));
      for (int i = 0; i < n; ++i) {
        Bytes item = bytes_of(std::to_string(i));
        if (!co_await call.send(std::move(item))) co_return Status(Code::unavailable, "caller went away");
      }
      co_return bytes_of("done " + std::to_string(n));
    };
    s.handle("count", Policy::open, count);
    s.handle("count-bulk", Policy::open, count, Lane::bulk);
    Node& b = net.add(bootstrap_to(test_options(), {&s}));
    REQUIRE(run_until(net.io, [&] { return net.mesh({&s, &b}); }, 5000ms));

    for (const char* method : {"count", "count-bulk"}) {
      CAPTURE(method);
      got.clear();
      auto r = wait(net.io, spawn(net.io, b.call(s.id(), method, bytes_of("500"), 2000ms,
                                                 [&](ByteView item) {
                                                   got.push_back(str_of(item));
                                                   return Status::ok();
                                                 })));
      REQUIRE_MESSAGE(r, r.status().to_string());
      CHECK(str_of(*r) == "done 500");
      REQUIRE(got.size() == 500);
      bool in_order = true;
      for (size_t i = 0; i < got.size(); ++i) in_order = in_order && got[i] == std::to_string(i);
      CHECK(in_order);
    }
    // Items for a plain call (no sink) fail it.
    auto r = wait(net.io, spawn(net.io, b.call(s.id(), "count", bytes_of("3"), 2000ms)));
    CHECK(r.status().code() == Code::corrupt);
  }

  TEST_CASE("node: a failing sink cancels the call on the server") {
    struct {
      int sent = 0, items = 0;
      bool send_false = false, cancelled = false, done = false;
    } st;
    Net net;
    Node& s = net.add();
    s.handle("endless", Policy::open, [&st](ServerCall& call) -> awaitable<Result<Bytes>> {
      while (st.sent < 1'000'000) {
        Bytes item(1000, 7);
        if (!co_await call.send(std::move(item))) {
          st.send_false = true;
          break;
        }
        ++st.sent;
      }
      st.cancelled = call.cancelled();
      st.done = true;
      co_return Bytes{};
    });
    s.handle("echo", Policy::open, [](ServerCall& call) -> awaitable<Result<Bytes>> {
      co_return Bytes(call.body().begin(), call.body().end());
    });
    Node& b = net.add(bootstrap_to(test_options(), {&s}));
    REQUIRE(run_until(net.io, [&] { return net.mesh({&s, &b}); }, 5000ms));

    auto r = wait(net.io, spawn(net.io, b.call(s.id(), "endless", {}, 2000ms, [&](ByteView) {
                    return ++st.items == 5 ? Status(Code::too_large, "enough") : Status::ok();
                  })));
    REQUIRE_FALSE(r);
    CHECK(r.status().code() == Code::too_large);
    CHECK(r.status().message() == "enough");
    REQUIRE(run_until(net.io, [&] { return st.done; }, 3000ms));
    CHECK(st.send_false);
    CHECK(st.cancelled);
    CHECK(st.sent < 1'000'000);
    CHECK(st.items == 5);  // nothing reaches the sink after it failed
    MESSAGE("server sent " << st.sent << " items before seeing the cancel");
    // The connection carries on.
    CHECK(net.mesh({&s, &b}));
    auto e = wait(net.io, spawn(net.io, b.call(s.id(), "echo", bytes_of("still here"), 2000ms)));
    REQUIRE(e);
    CHECK(str_of(*e) == "still here");
  }

  TEST_CASE("node: 200 concurrent calls all complete") {
    int in_flight = 0, peak = 0;
    Net net;
    NodeOptions so = test_options();
    so.max_calls_per_peer = 256;
    Node& s = net.add(so);
    s.handle("slow-echo", Policy::open, [&](ServerCall& call) -> awaitable<Result<Bytes>> {
      peak = std::max(peak, ++in_flight);
      co_await sleep_for(50ms);
      --in_flight;
      co_return Bytes(call.body().begin(), call.body().end());
    });
    Node& b = net.add(bootstrap_to(test_options(), {&s}));
    REQUIRE(run_until(net.io, [&] { return net.mesh({&s, &b}); }, 5000ms));

    constexpr int kCalls = 200;
    std::vector<Later<Result<Bytes>>> calls;
    for (int i = 0; i < kCalls; ++i)
      calls.push_back(spawn(net.io, b.call(s.id(), "slow-echo", bytes_of(std::to_string(i)), 5000ms)));
    REQUIRE(run_until(net.io,
                      [&] {
                        return std::all_of(calls.begin(), calls.end(),
                                           [](auto& c) { return c->has_value(); });
                      },
                      10000ms));
    int ok = 0;
    for (int i = 0; i < kCalls; ++i) {
      auto& r = **calls[i];
      if (r && str_of(*r) == std::to_string(i)) ++ok;
      else CHECK_MESSAGE(r, "call " << i << ": " << r.status().to_string());
    }
    CHECK(ok == kCalls);
    CHECK(peak > kCalls / 2);  // they really were in flight together
    CHECK(s.counters().calls_denied == 0);
  }

  TEST_CASE("node: calls over max_calls_per_peer are refused with busy") {
    bool release = false;
    int running = 0;
    Net net;
    NodeOptions so = test_options();
    so.max_calls_per_peer = 4;
    Node& s = net.add(so);
    s.handle("hold", Policy::open, [&](ServerCall& call) -> awaitable<Result<Bytes>> {
      ++running;
      while (!release && !call.cancelled()) co_await sleep_for(5ms);
      co_return bytes_of("held");
    });
    s.handle("echo", Policy::open, [](ServerCall& call) -> awaitable<Result<Bytes>> {
      co_return Bytes(call.body().begin(), call.body().end());
    });
    Node& b = net.add(bootstrap_to(test_options(), {&s}));
    REQUIRE(run_until(net.io, [&] { return net.mesh({&s, &b}); }, 5000ms));
    // One round trip, so b's peer exchange call (sent first) is over.
    REQUIRE(wait(net.io, spawn(net.io, b.call(s.id(), "echo", {}, 2000ms))));

    std::vector<Later<Result<Bytes>>> calls;
    for (int i = 0; i < 6; ++i) calls.push_back(spawn(net.io, b.call(s.id(), "hold", {}, 5000ms)));
    auto finished = [&] {
      return std::count_if(calls.begin(), calls.end(), [](auto& c) { return c->has_value(); });
    };
    REQUIRE(run_until(net.io, [&] { return running == 4 && finished() == 2; }, 3000ms));
    for (int i = 4; i < 6; ++i) {
      REQUIRE(calls[i]->has_value());
      auto& r = **calls[i];
      REQUIRE_FALSE(r);
      CHECK(r.status().code() == Code::busy);
      CHECK(contains(r.status().message(), "too many calls in flight (limit 4)"));
    }
    release = true;
    REQUIRE(run_until(net.io, [&] { return finished() == 6; }, 3000ms));
    for (int i = 0; i < 4; ++i) {
      auto& r = **calls[i];
      REQUIRE_MESSAGE(r, r.status().to_string());
      CHECK(str_of(*r) == "held");
    }
    CHECK(running == 4);
    CHECK(s.counters().calls_denied == 2);
    // The slots are free again.
    auto again = wait(net.io, spawn(net.io, b.call(s.id(), "hold", {}, 2000ms)));
    CHECK(again);
  }

  TEST_CASE("node: a control-lane call is not stuck behind a bulk transfer") {
    constexpr int kItems = 128;
    constexpr size_t kItem = size_t{256} << 10;  // 32 MiB in all
    int items = 0;
    bool in_order = true;
    Net net;
    Node& s = net.add();
    s.handle(
        "bulk", Policy::open,
        [](ServerCall& call) -> awaitable<Result<Bytes>> {
          for (int i = 0; i < kItems; ++i) {
            Bytes item(kItem, static_cast<uint8_t>(i));
            if (!co_await call.send(std::move(item))) co_return Status(Code::unavailable, "caller went away");
          }
          co_return bytes_of("done");
        },
        Lane::bulk);
    s.handle("echo", Policy::open, [](ServerCall& call) -> awaitable<Result<Bytes>> {
      co_return Bytes(call.body().begin(), call.body().end());
    });
    Node& b = net.add(bootstrap_to(test_options(), {&s}));
    REQUIRE(run_until(net.io, [&] { return net.mesh({&s, &b}); }, 5000ms));

    const auto start = Clock::now();
    auto bulk = spawn(net.io, b.call(s.id(), "bulk", {}, 10000ms, [&](ByteView v) {
      if (v.size() != kItem || v[0] != static_cast<uint8_t>(items)) in_order = false;
      ++items;
      return Status::ok();
    }));
    REQUIRE(run_until(net.io, [&] { return items >= 2; }, 5000ms));
    const auto t0 = Clock::now();
    auto echo = spawn(net.io, b.call(s.id(), "echo", bytes_of("ping"), 5000ms));
    REQUIRE(run_until(net.io, [&] { return echo->has_value(); }, 5000ms));
    const long rtt = ms_since(t0);
    const int items_at_echo = items;
    REQUIRE_MESSAGE(**echo, (**echo).status().to_string());
    CHECK(str_of(***echo) == "ping");

    auto r = wait(net.io, bulk, 30000ms);
    const long total = ms_since(start);
    REQUIRE_MESSAGE(r, r.status().to_string());
    CHECK(items == kItems);
    CHECK(in_order);
    MESSAGE("echo round trip " << rtt << " ms during a " << total << " ms, 32 MiB transfer (at item "
                               << items_at_echo << " of " << kItems << ")");
    CHECK(rtt < 1000);
    CHECK(items_at_echo < kItems);  // the echo overtook the transfer
  }

  // ---- slow peers ----

  TEST_CASE("node: a peer that stops reading is dropped as not keeping up") {
    int b_got = 0;
    Net net;
    NodeOptions ao = test_options();
    ao.connection.max_queued_bytes = size_t{1} << 20;
    Node& a = net.add(ao);
    Node& b = net.add(bootstrap_to(test_options(), {&a}));
    REQUIRE(b.subscribe("flood", [&](const PubsubMessage&, const PeerId&) { ++b_got; }));
    REQUIRE(run_until(net.io, [&] { return net.mesh({&a, &b}); }, 5000ms));

    // An authenticated peer that never reads after the handshake.
    RawPeer raw(net.io);
    const PeerId raw_id = connect_raw(net, raw, a);

    // Publish 256 KiB at a time, as fast as b takes it.
    constexpr int kMax = 400;  // 100 MiB: far more than socket buffers hold
    int published = 0;
    while (published < kMax && a.is_connected(raw_id)) {
      REQUIRE(a.publish("flood", Bytes(size_t{256} << 10, static_cast<uint8_t>(published))));
      ++published;
      REQUIRE(run_until(net.io, [&] { return b_got == published || !a.is_connected(raw_id); }, 5000ms));
    }
    MESSAGE("the silent peer was dropped after " << published << " publishes of 256 KiB");
    CHECK_FALSE(a.is_connected(raw_id));
    CHECK(published < kMax);
    CHECK_MESSAGE(net.logged(a, "peer is not keeping up"), net.log_text(a));
    // The peer that reads is unaffected.
    CHECK(run_until(net.io, [&] { return b_got == published; }, 5000ms));
    CHECK(net.mesh({&a, &b}));
  }

  TEST_CASE("node: a peer that stops reading but stays under the queue limit is closed by the write timeout") {
    Net net;
    NodeOptions ao = test_options();
    ao.connection.write_timeout = 500ms;
    ao.connection.ping_interval = 100ms;
    ao.connection.idle_timeout = 10s;  // the silent peer is not idle-closed first
    Node& a = net.add(ao);
    RawPeer raw(net.io);
    const PeerId raw_id = connect_raw(net, raw, a);

    // 32 MiB: more than loopback socket buffers hold, less than the 64 MiB
    // send queue allows, so only the stalled write can tell.
    for (int i = 0; i < 128; ++i)
      REQUIRE(a.publish("flood", Bytes(size_t{256} << 10, static_cast<uint8_t>(i))));
    const auto t0 = Clock::now();
    REQUIRE(run_until(net.io, [&] { return !a.is_connected(raw_id); }, 5000ms));
    MESSAGE("closed " << ms_since(t0) << " ms after the publishes");
    CHECK_MESSAGE(net.logged(a, "(write timeout)"), net.log_text(a));
    CHECK_FALSE(net.logged(a, "not keeping up"));
  }

  // ---- pubsub ----

  TEST_CASE("node: pubsub across three nodes: delivered once, validated, duplicates counted") {
    std::map<std::string, std::vector<std::string>> got;  // node name -> data
    Net net;
    Node& a = net.add();
    Node& b = net.add(bootstrap_to(test_options(), {&a}));
    Node& c = net.add(bootstrap_to(test_options(), {&a, &b}));
    REQUIRE(run_until(net.io, [&] { return net.mesh({&a, &b, &c}); }, 5000ms));
    for (auto [n, name] : {std::pair{&a, "a"}, {&b, "b"}, {&c, "c"}})
      REQUIRE(n->subscribe("t", [&got, name](const PubsubMessage& m, const PeerId&) {
        got[name].push_back(str_of(m.data));
      }));
    // Everything sent before a round trip on the same connections has arrived
    // after it (one lane, in order).
    auto barrier = [&] {
      for (Node* x : {&a, &b, &c})
        for (Node* y : {&a, &b, &c})
          if (x != y) REQUIRE(wait(net.io, spawn(net.io, x->call(y->id(), "id", {}, 2000ms))));
    };

    REQUIRE(a.publish("t", as_bytes("one")));
    REQUIRE(run_until(net.io, [&] { return got["b"].size() == 1 && got["c"].size() == 1; }, 3000ms));
    barrier();
    barrier();  // forwards sent while the first barrier ran
    CHECK(got["a"].empty());  // the publisher's own handler is not called
    CHECK(got["b"] == std::vector<std::string>{"one"});
    CHECK(got["c"] == std::vector<std::string>{"one"});
    // b and c forward to each other; whichever copy comes second is a duplicate.
    const auto dups = b.pubsub_counters().duplicates + c.pubsub_counters().duplicates;
    CHECK(dups >= 1);
    CHECK(dups <= 2);
    CHECK(a.pubsub_counters().duplicates == 0);  // nobody sends a message back to its origin
    CHECK(a.pubsub_counters().published == 1);

    // a and b refuse whatever c originates.
    const PeerId banned = c.id();
    for (Node* n : {&a, &b})
      REQUIRE(n->set_validator("t", [banned](const PubsubMessage& m, const PeerId&) {
        return m.origin != banned;
      }));
    REQUIRE(c.publish("t", as_bytes("from c")));
    REQUIRE(run_until(net.io,
                      [&] {
                        return a.pubsub_counters().rejected_validator == 1 &&
                               b.pubsub_counters().rejected_validator == 1;
                      },
                      3000ms));
    barrier();
    barrier();
    CHECK(got["a"].empty());
    CHECK(got["b"] == std::vector<std::string>{"one"});
    // Others' messages still pass.
    REQUIRE(b.publish("t", as_bytes("two")));
    REQUIRE(run_until(net.io, [&] { return got["a"].size() == 1 && got["c"].size() == 2; }, 3000ms));
    barrier();
    barrier();
    CHECK(got["a"] == std::vector<std::string>{"two"});
    CHECK(got["c"] == std::vector<std::string>{"one", "two"});
    CHECK(got["b"] == std::vector<std::string>{"one"});
    CHECK(a.pubsub_counters().rejected_validator == 1);
    CHECK(b.pubsub_counters().rejected_validator == 1);
  }

  // ---- lifecycle ----

  TEST_CASE("node: stop() fails calls in flight, closes the listeners and lets run() return") {
    int server_running = 0, server_ended = 0;
    Net net;
    Node& s = net.add();
    s.handle("slow", Policy::open, [&](ServerCall& call) -> awaitable<Result<Bytes>> {
      ++server_running;
      co_await until_cancelled(call);
      ++server_ended;
      co_return Bytes{};
    });
    Node& c = net.add(bootstrap_to(test_options(), {&s}));
    REQUIRE(run_until(net.io, [&] { return net.mesh({&s, &c}); }, 5000ms));
    const auto s_ep = endpoint_of(s), c_ep = endpoint_of(c);

    auto r1 = spawn(net.io, c.call(s.id(), "slow", {}, 60000ms));
    auto r2 = spawn(net.io, c.call(s.id(), "slow", {}, 60000ms));
    REQUIRE(run_until(net.io, [&] { return server_running == 2; }, 3000ms));

    const auto t0 = Clock::now();
    c.stop();
    REQUIRE(run_until(net.io, [&] { return r1->has_value() && r2->has_value(); }, 1000ms));
    CHECK(ms_since(t0) < 500);
    for (auto* r : {&**r1, &**r2}) {
      REQUIRE_FALSE(*r);
      CHECK(r->status().code() == Code::unavailable);
      CHECK_MESSAGE(contains(r->status().message(), "node stopping"), r->status().message());
    }
    CHECK(c.connected().empty());
    auto late = wait(net.io, spawn(net.io, c.call(s.id(), "slow", {}, 60000ms)), 1000ms);
    CHECK(late.status().code() == Code::unavailable);
    // The callee notices the caller is gone.
    CHECK(run_until(net.io, [&] { return server_ended == 2; }, 2000ms));

    s.stop();
    for (const auto& ep : {s_ep, c_ep}) {
      tcp::socket sock(net.io);
      error_code ec;
      sock.connect(ep, ec);
      CHECK_MESSAGE(ec == asio::error::connection_refused, ec.message());
    }

    // With both nodes stopped nothing is left to do: run() returns by itself.
    std::promise<void> returned;
    std::atomic<bool> hung{false};
    std::thread watchdog([&, f = returned.get_future()] {
      if (f.wait_for(5s) == std::future_status::timeout) {
        hung = true;
        net.io.stop();
      }
    });
    net.io.restart();
    const auto t1 = Clock::now();
    net.io.run();
    returned.set_value();
    watchdog.join();
    CHECK_FALSE_MESSAGE(hung, "io_context::run() still had work 5 s after stop()");
    MESSAGE("run() returned " << ms_since(t1) << " ms after both nodes stopped");
  }

  TEST_CASE("node: stop() abandons a dial in flight") {
    Net net;
    // A listener whose accept queue is full: the kernel drops further SYNs,
    // so a connect to it hangs (until the dial timeout).
    tcp::acceptor hole(net.io);
    hole.open(tcp::v4());
    hole.bind(tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), 0));
    hole.listen(0);
    tcp::socket filler(net.io);
    filler.connect(hole.local_endpoint());
    NodeOptions o = test_options();
    o.dial_timeout = 20000ms;
    o.bootstrap.push_back(*Multiaddr::parse("/ip4/127.0.0.1/tcp/" +
                                            std::to_string(hole.local_endpoint().port()) + "/p2p/" +
                                            Identity::generate().id().to_string()));
    Node& a = net.add(o);
    REQUIRE(run_until(net.io, [&] { return a.counters().dials == 1; }, 2000ms));
    // Give the connect time to be sent and go unanswered.
    CHECK_FALSE(run_until(net.io, [&] { return a.counters().dial_failures > 0; }, 200ms));

    a.stop();
    std::promise<void> returned;
    std::atomic<bool> hung{false};
    std::thread watchdog([&, f = returned.get_future()] {
      if (f.wait_for(3s) == std::future_status::timeout) {
        hung = true;
        net.io.stop();
      }
    });
    net.io.restart();
    const auto t0 = Clock::now();
    net.io.run();
    returned.set_value();
    watchdog.join();
    CHECK_FALSE_MESSAGE(hung, "io_context::run() was still waiting for the dial 3 s after stop()");
    MESSAGE("run() returned " << ms_since(t0) << " ms after stop()");
    CHECK(a.connected().empty());
  }

  TEST_CASE("node: a restarted peer is redialed") {
    Net net;
    const Identity bid = Identity::generate();
    Node* b = &net.add(test_options(), std::nullopt, bid);
    const uint16_t port = b->listen_addrs().at(0).port;
    Node& a = net.add(bootstrap_to(test_options(), {b}));
    REQUIRE(run_until(net.io, [&] { return net.mesh({&a, b}); }, 5000ms));
    const auto dials = a.counters().dials;

    net.remove(*b);
    REQUIRE(run_until(net.io, [&] { return !a.is_connected(bid.id()); }, 2000ms));
    CHECK(net.logged(a, "disconnected from " + bid.id().to_string()));

    NodeOptions bo = test_options();
    bo.listen = {*Multiaddr::parse("/ip4/127.0.0.1/tcp/" + std::to_string(port))};
    b = &net.add(bo, std::nullopt, bid);  // same identity, same port, knows nobody
    const auto t0 = Clock::now();
    REQUIRE_MESSAGE(run_until(net.io, [&] { return net.mesh({&a, b}); }, 5000ms), net.log_text(a));
    MESSAGE("redialed " << ms_since(t0) << " ms after the restart");
    CHECK(a.counters().dials > dials);
    CHECK(b->counters().dials == 0);
    CHECK(b->counters().inbound == 1);
  }

  TEST_CASE("node: an authenticated peer that goes silent is closed after idle_timeout") {
    Net net;
    NodeOptions o = test_options();
    o.connection.idle_timeout = 500ms;
    o.connection.ping_interval = 100ms;
    Node& a = net.add(o);
    Node& b = net.add(bootstrap_to(o, {&a}));
    REQUIRE(run_until(net.io, [&] { return net.mesh({&a, &b}); }, 5000ms));

    RawPeer raw(net.io);
    struct Outcome {
      Status handshake;
      error_code closed;
      long ms = 0;
    };
    auto silent = [&]() -> awaitable<Outcome> {
      Outcome out;
      if (auto ec = co_await raw.connect(endpoint_of(a))) {
        out.handshake = Status(Code::unavailable, ec.message());
        co_return out;
      }
      out.handshake = co_await raw.handshake(net.secret, a.id());
      if (!out.handshake) co_return out;
      const auto t0 = Clock::now();
      out.closed = co_await raw.until_closed();  // reads Hello and pings, answers nothing
      out.ms = ms_since(t0);
      co_return out;
    };
    Outcome out = wait(net.io, spawn(net.io, silent()), 5000ms);
    REQUIRE_MESSAGE(out.handshake, out.handshake.to_string());
    CHECK_MESSAGE(closed_by_peer(out.closed), out.closed.message());
    CHECK(out.ms >= 450);
    CHECK(out.ms < 1500);
    CHECK_MESSAGE(net.logged(a, "(idle timeout)"), net.log_text(a));
    CHECK_FALSE(a.is_connected(raw.identity().id()));

    // A peer that pings stays, though it sends nothing else.
    CHECK_FALSE(run_until(net.io, [&] { return !net.mesh({&a, &b}); }, 1500ms));
  }
}
