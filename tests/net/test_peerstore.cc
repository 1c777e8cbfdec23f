// The peer store: backoff growth, cap and jitter; the dial life cycle;
// eviction at the cap; peer exchange bounds; persistence and damaged files.
#include <doctest/doctest.h>

#include <fstream>
#include <set>
#include <string>

#include "net/identity.h"
#include "net/peerstore.h"
#include "tests/unit/tempdir.h"

using namespace trellis;
using namespace trellis::net;
using namespace std::chrono_literals;

namespace {

PeerId peer_of(uint32_t n) {
  Bytes seed(32, 0);
  for (int i = 0; i < 4; ++i) seed[i] = static_cast<uint8_t>(n >> (8 * i));
  seed[31] = 0xa5;
  return Identity::from_seed(seed).id();
}

Multiaddr addr(const std::string& text) {
  auto ma = Multiaddr::parse(text);
  REQUIRE_MESSAGE(ma, ma.status().message());
  return *ma;
}

Multiaddr addr_n(uint32_t n) {
  return addr("/ip4/10.0." + std::to_string((n >> 8) & 255) + "." + std::to_string(n & 255) +
              "/tcp/4001");
}

const WallTime t0 = WallTime{} + 1'700'000'000s;

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

}  // namespace

TEST_SUITE("peerstore") {
  TEST_CASE("backoff doubles from base to the cap, with jitter in [c/2, c]") {
    PeerStoreOptions o;  // 1 s base, 5 min cap
    std::mt19937_64 rng(42);
    for (uint32_t n = 1; n <= 40; ++n) {
      const int64_t ceiling = std::min<int64_t>(1000LL << std::min<uint32_t>(n - 1, 30), 300000);
      for (int k = 0; k < 50; ++k) {
        const auto d = PeerStore::backoff(o, n, rng).count();
        CHECK(d >= ceiling / 2);
        CHECK(d <= ceiling);
      }
    }
    // Huge failure counts stay at the cap without overflowing.
    const auto d = PeerStore::backoff(o, UINT32_MAX, rng).count();
    CHECK(d >= 150000);
    CHECK(d <= 300000);
    // Deterministic for a given seed.
    std::mt19937_64 a(7), b(7);
    for (uint32_t n = 1; n < 12; ++n)
      CHECK(PeerStore::backoff(o, n, a) == PeerStore::backoff(o, n, b));
    // And actually jittered.
    std::set<int64_t> seen;
    for (int k = 0; k < 20; ++k) seen.insert(PeerStore::backoff(o, 10, rng).count());
    CHECK(seen.size() > 10);
  }

  TEST_CASE("strangers back off to backoff_max, known members only to backoff_max_known") {
    const PeerId self = peer_of(0), stranger = peer_of(1), member = peer_of(2), old = peer_of(3);
    PeerStore store(self, {.seed = 3});
    REQUIRE(store.add(stranger, std::vector{addr("/ip4/10.0.0.1/tcp/4001")}, PeerSource::exchange, t0));
    REQUIRE(store.add(member, std::vector{addr("/ip4/10.0.0.2/tcp/4001")}, PeerSource::exchange, t0));
    REQUIRE(store.add(old, std::vector{addr("/ip4/10.0.0.3/tcp/4001")}, PeerSource::exchange, t0));
    store.record_success(member, t0);  // seen just now
    store.record_success(old, t0);
    store.record_disconnect(member, t0 + 31s);
    store.record_disconnect(old, t0 + 31s);
    const WallTime later = t0 + 2h;  // `old` was last seen 2 h ago: a stranger again
    for (int n = 0; n < 12; ++n) {
      (void)store.record_failure(stranger, later);
      (void)store.record_failure(old, later);
    }
    for (int n = 0; n < 12; ++n) (void)store.record_failure(member, t0 + 32s);
    CHECK(store.find(stranger)->next_dial - later >= 150s);
    CHECK(store.find(old)->next_dial - later >= 150s);
    CHECK(store.find(member)->next_dial - (t0 + 32s) <= 5s);
  }

  TEST_CASE("dial life cycle: due, failure backoff, success, disconnect") {
    const PeerId self = peer_of(0), p = peer_of(1);
    PeerStore store(self, {.seed = 1});
    REQUIRE(store.add(p, std::vector{addr("/ip4/10.0.0.1/tcp/4001")}, PeerSource::bootstrap, t0));

    auto due = store.due(t0, 10);
    REQUIRE(due.size() == 1);
    CHECK(due[0].id == p);
    CHECK(due[0].addrs.size() == 1);
    CHECK(store.due(t0, 10).empty());  // being dialed: not handed out twice

    // Failures: each wait within [c/2, c] and growing to the cap, which is
    // backoff_max_known (5 s) for a bootstrap peer.
    WallTime now = t0;
    for (uint32_t n = 1; n <= 12; ++n) {
      auto next = store.record_failure(p, now);
      REQUIRE(next);
      const auto wait = *next - now;
      const auto ceiling = std::min<std::chrono::milliseconds>(1000ms * (1LL << (n - 1)), 5s);
      CHECK(wait >= ceiling / 2);
      CHECK(wait <= ceiling);
      CHECK(store.find(p)->failures == n);
      CHECK(store.due(*next - 1ms, 10).empty());
      REQUIRE(store.due(*next, 10).size() == 1);
      now = *next;
    }

    // Success, then a quick drop: still backing off (the count keeps growing).
    store.record_success(p, now);
    CHECK(store.find(p)->state == PeerRecord::State::connected);
    CHECK(store.find(p)->last_seen == now);
    CHECK(store.due(now + 1h, 10).empty());  // connected peers are not dialed
    store.record_disconnect(p, now + 1s);
    CHECK(store.find(p)->failures == 13);
    CHECK(store.find(p)->next_dial > now + 1s);

    // A stable connection resets the count and allows an immediate redial.
    now = store.find(p)->next_dial;
    REQUIRE(store.due(now, 10).size() == 1);
    store.record_success(p, now);
    store.record_disconnect(p, now + 1min);
    CHECK(store.find(p)->failures == 0);
    CHECK(store.due(now + 1min, 10).size() == 1);

    CHECK_FALSE(store.record_failure(peer_of(99), now));
  }

  TEST_CASE("due: limit, oldest first, no address, wall clock stepping back") {
    PeerStore store(peer_of(0), {.seed = 2});
    for (uint32_t i = 1; i <= 5; ++i) {
      REQUIRE(store.add(peer_of(i), std::vector{addr_n(i)}, PeerSource::exchange, t0 + i * 1s));
    }
    REQUIRE(store.add(peer_of(6), {}, PeerSource::inbound, t0));  // no address: never dialed
    auto first = store.due(t0 + 10s, 2);
    REQUIRE(first.size() == 2);
    CHECK(first[0].id == peer_of(1));
    CHECK(first[1].id == peer_of(2));
    CHECK(store.due(t0 + 10s, 10).size() == 3);
    CHECK(store.due(t0 + 10s, 10).empty());

    // A next-dial time far beyond the cap means the clock went back.
    auto next = store.record_failure(peer_of(1), t0 + 24h);
    REQUIRE(next);
    CHECK(store.due(t0 + 10s, 10).size() == 1);
  }

  TEST_CASE("add: validation, address order and bounds, source precedence") {
    const PeerId self = peer_of(0), p = peer_of(1);
    PeerStore store(self, {.max_addrs = 3});
    CHECK(store.add(self, {}, PeerSource::inbound, t0).code() == Code::invalid_argument);
    CHECK(store.add(PeerId(), {}, PeerSource::inbound, t0).code() == Code::invalid_argument);
    CHECK_FALSE(store.add(p, std::vector{addr("/ip4/0.0.0.0/tcp/1")}, PeerSource::inbound, t0));
    CHECK_FALSE(store.add(p, std::vector{addr("/ip4/1.2.3.4/tcp/0")}, PeerSource::inbound, t0));
    CHECK_FALSE(
        store.add(p, std::vector{addr_n(1).with_peer(peer_of(2))}, PeerSource::inbound, t0));
    CHECK(store.size() == 0);

    REQUIRE(store.add(p, std::vector{addr_n(1).with_peer(p), addr_n(1)}, PeerSource::exchange, t0));
    CHECK(store.find(p)->addrs == std::vector{addr_n(1)});  // /p2p stripped, deduplicated
    // Hearsay fills free slots after what we know.
    REQUIRE(store.add(p, std::vector{addr_n(2), addr_n(3), addr_n(4)}, PeerSource::exchange, t0));
    CHECK(store.find(p)->addrs == std::vector{addr_n(1), addr_n(2), addr_n(3)});
    // The peer's own word goes first.
    REQUIRE(store.add(p, std::vector{addr_n(5)}, PeerSource::inbound, t0));
    CHECK(store.find(p)->addrs == std::vector{addr_n(5), addr_n(1), addr_n(2)});
    CHECK(store.find(p)->source == PeerSource::inbound);
    REQUIRE(store.add(p, {}, PeerSource::bootstrap, t0));
    REQUIRE(store.add(p, {}, PeerSource::exchange, t0));
    CHECK(store.find(p)->source == PeerSource::bootstrap);

    // The address that worked moves to the front.
    const Multiaddr via = addr_n(2);
    store.record_success(p, t0, &via);
    CHECK(store.find(p)->addrs == std::vector{addr_n(2), addr_n(5), addr_n(1)});

    CHECK(store.forget(p));
    CHECK_FALSE(store.forget(p));
    CHECK(store.find(p) == nullptr);
  }

  TEST_CASE("the cap evicts the least recently seen non-bootstrap idle peer") {
    PeerStore store(peer_of(0), {.max_peers = 4});
    REQUIRE(store.add(peer_of(1), std::vector{addr_n(1)}, PeerSource::bootstrap, t0));
    REQUIRE(store.add(peer_of(2), std::vector{addr_n(2)}, PeerSource::inbound, t0));
    REQUIRE(store.add(peer_of(3), std::vector{addr_n(3)}, PeerSource::inbound, t0));
    REQUIRE(store.add(peer_of(4), std::vector{addr_n(4)}, PeerSource::exchange, t0 + 1s));
    // Seen: 2 long ago, 3 recently, 1 (bootstrap) never; 4 never (exchange).
    store.record_success(peer_of(2), t0 + 1s);
    store.record_disconnect(peer_of(2), t0 + 2min);
    store.record_success(peer_of(3), t0 + 1h);
    store.record_disconnect(peer_of(3), t0 + 2h);

    // 4 was never seen: it goes first, bootstrap 1 is never a victim.
    REQUIRE(store.add(peer_of(5), std::vector{addr_n(5)}, PeerSource::exchange, t0 + 3h));
    CHECK(store.size() == 4);
    CHECK(store.find(peer_of(4)) == nullptr);
    // Among never-seen peers the oldest added goes: 5 is the only one, then 2.
    REQUIRE(store.add(peer_of(6), std::vector{addr_n(6)}, PeerSource::exchange, t0 + 4h));
    CHECK(store.find(peer_of(5)) == nullptr);
    store.record_success(peer_of(6), t0 + 5h);  // connected: not evictable
    REQUIRE(store.add(peer_of(7), std::vector{addr_n(7)}, PeerSource::exchange, t0 + 6h));
    CHECK(store.find(peer_of(2)) == nullptr);  // least recently seen
    CHECK(store.find(peer_of(1)) != nullptr);
    CHECK(store.find(peer_of(3)) != nullptr);
    CHECK(store.find(peer_of(6)) != nullptr);
    CHECK(store.size() == 4);

    // Nothing evictable: refused.
    PeerStore full(peer_of(0), {.max_peers = 2});
    REQUIRE(full.add(peer_of(1), {}, PeerSource::bootstrap, t0));
    REQUIRE(full.add(peer_of(2), {}, PeerSource::bootstrap, t0));
    CHECK(full.add(peer_of(3), {}, PeerSource::inbound, t0).code() == Code::too_large);
  }

  TEST_CASE("the store never grows beyond max_peers under a flood of exchanges") {
    PeerStore store(peer_of(0), {.max_peers = 100, .max_exchange = 64});
    for (uint32_t i = 1; i <= 10; ++i) {
      REQUIRE(store.add(peer_of(i), std::vector{addr_n(i)}, PeerSource::inbound, t0));
      store.record_success(peer_of(i), t0);
      store.record_disconnect(peer_of(i), t0 + 1min);  // idle again: evictable in principle
    }
    uint32_t next = 1000;
    for (int round = 0; round < 5; ++round) {
      std::vector<ExchangeEntry> list;
      for (int k = 0; k < 64; ++k, ++next) list.push_back({peer_of(next), {addr_n(next)}});
      store.merge_exchange(peer_of(1), list, t0 + round * 1s);
      CHECK(store.size() <= 100);
    }
    CHECK(store.size() == 100);
    for (uint32_t i = 1; i <= 10; ++i) CHECK(store.find(peer_of(i)) != nullptr);  // seen survive
  }

  TEST_CASE("exchange snapshot: bounded, seen peers only, never the requester") {
    PeerStore store(peer_of(0), {.max_exchange = 5, .seed = 3});
    for (uint32_t i = 1; i <= 20; ++i) {
      REQUIRE(store.add(peer_of(i), std::vector{addr_n(i)}, PeerSource::inbound, t0));
      if (i <= 8) store.record_success(peer_of(i), t0);  // seen
    }
    REQUIRE(store.add(peer_of(30), {}, PeerSource::inbound, t0));
    store.record_success(peer_of(30), t0);  // seen, but no address
    std::set<PeerId> union_of;
    for (int k = 0; k < 30; ++k) {
      auto snap = store.exchange_snapshot(peer_of(1));
      CHECK(snap.size() == 5);
      for (const auto& e : snap) {
        CHECK(e.id != peer_of(1));
        CHECK(e.id != peer_of(30));
        CHECK(store.find(e.id)->last_seen > WallTime{});
        CHECK(e.addrs == store.find(e.id)->addrs);
        union_of.insert(e.id);
      }
    }
    CHECK(union_of.size() == 7);  // random samples cover all of 2..8
    PeerStore empty(peer_of(0));
    CHECK(empty.exchange_snapshot(peer_of(1)).empty());
  }

  TEST_CASE("merge exchange: bounds, self, sender, foreign /p2p, undialable") {
    const PeerId self = peer_of(0), from = peer_of(1);
    PeerStore store(self, {.max_addrs = 2, .max_exchange = 6});
    REQUIRE(store.add(peer_of(2), std::vector{addr_n(2)}, PeerSource::inbound, t0));
    std::vector<ExchangeEntry> list = {
        {self, {addr_n(100)}},                                                     // self
        {from, {addr_n(101)}},                                                     // the sender
        {peer_of(3), {addr_n(3).with_peer(peer_of(3)), addr_n(33), addr_n(333)}},  // 2 kept
        {peer_of(4), {addr_n(4).with_peer(peer_of(5))}},                           // foreign /p2p
        {peer_of(6), {addr("/ip4/0.0.0.0/tcp/1")}},                                // undialable
        {peer_of(2), {addr_n(22)}},  // known: gains one
        {peer_of(7), {addr_n(7)}},   // beyond max_exchange
        {PeerId(), {addr_n(8)}},
    };
    const auto counts = store.merge_exchange(from, list, t0);
    CHECK(counts.added == 1);
    CHECK(counts.updated == 1);
    CHECK(counts.ignored == 6);
    CHECK(store.size() == 2);
    CHECK(store.find(peer_of(3))->addrs == std::vector{addr_n(3), addr_n(33)});
    CHECK(store.find(peer_of(3))->source == PeerSource::exchange);
    CHECK(store.find(peer_of(3))->last_seen == WallTime{});
    CHECK(store.find(peer_of(2))->addrs == std::vector{addr_n(2), addr_n(22)});
    CHECK(store.find(peer_of(2))->source == PeerSource::inbound);
    CHECK(store.find(peer_of(7)) == nullptr);
  }

  TEST_CASE("save and load round trip") {
    testing::TempDir dir;
    const std::string path = dir.sub("peers.json");
    PeerStore store(peer_of(0), {.seed = 4});
    REQUIRE(store.add(peer_of(1), std::vector{addr_n(1), addr("/dns4/a.example/tcp/9")},
                      PeerSource::bootstrap, t0));
    REQUIRE(store.add(peer_of(2), {}, PeerSource::inbound, t0));
    REQUIRE(store.add(peer_of(3), std::vector{addr_n(3)}, PeerSource::exchange, t0));
    store.record_success(peer_of(2), t0 + 1500ms);
    REQUIRE(store.due(t0, 10).size() == 2);
    (void)store.record_failure(peer_of(3), t0);
    (void)store.record_failure(peer_of(3), t0);
    REQUIRE(store.save(path));
    CHECK_FALSE(std::filesystem::exists(path + ".tmp"));

    PeerStore back(peer_of(0));
    REQUIRE(back.load(path, t0 + 1h));
    REQUIRE(back.size() == 3);
    for (const auto& [id, r] : store.peers()) {
      const PeerRecord* b = back.find(id);
      REQUIRE(b != nullptr);
      CHECK(b->addrs == r.addrs);
      CHECK(b->last_seen == r.last_seen);
      CHECK(b->failures == r.failures);
      CHECK(b->state == PeerRecord::State::idle);
      CHECK(b->next_dial == t0 + 1h);
    }
    // The config, not the file, says who is a bootstrap peer.
    CHECK(back.find(peer_of(1))->source == PeerSource::exchange);
    CHECK(back.find(peer_of(2))->source == PeerSource::inbound);
    CHECK(back.due(t0 + 1h, 10).size() == 2);

    // Saving again replaces the file.
    REQUIRE(back.forget(peer_of(3)));
    REQUIRE(back.save(path));
    PeerStore again(peer_of(0));
    REQUIRE(again.load(path, t0));
    CHECK(again.size() == 2);

    // A smaller cap keeps the most recently seen.
    PeerStore small(peer_of(0), {.max_peers = 1});
    REQUIRE(small.load(path, t0));
    REQUIRE(small.size() == 1);
    CHECK(small.find(peer_of(2)) != nullptr);
  }

  TEST_CASE("damaged files are reported and leave the store as it was") {
    testing::TempDir dir;
    const std::string path = dir.sub("peers.json");
    const std::string id = peer_of(1).to_string();
    auto entry = [&](const std::string& fields) {
      return R"({"version": 1, "peers": [{)" + fields + "}]}";
    };
    const std::string good_fields = R"("id": ")" + id +
                                    R"(", "addrs": ["/ip4/1.2.3.4/tcp/1"], "source": "inbound", )"
                                    R"("last_seen_unix_ms": 5, "failures": 0)";
    struct Case {
      std::string text;
      Code code;
      std::string message;
    };
    const Case cases[] = {
        {"", Code::corrupt, "not valid JSON"},
        {"{\"version\": 1, \"peers\": [", Code::corrupt, "not valid JSON"},
        {"[]", Code::corrupt, "not a JSON object"},
        {"{}", Code::corrupt, "no version"},
        {R"({"version": 2, "peers": []})", Code::unsupported, "version 2"},
        {R"({"version": 1})", Code::corrupt, "no \"peers\" array"},
        {R"({"version": 1, "peers": [3]})", Code::corrupt, "peers[0] is not an object"},
        {entry(R"("addrs": [])"), Code::corrupt, "peers[0].id is missing"},
        {entry(R"("id": "12D3KooWnope", "addrs": [])"), Code::corrupt, "peers[0].id:"},
        {entry(R"("id": ")" + id + R"(")"), Code::corrupt, "peers[0].addrs is missing"},
        {entry(R"("id": ")" + id + R"(", "addrs": ["/ip4/1.2.3.4/tcp/99999"])"), Code::corrupt,
         "peers[0].addrs[0]: port 99999 out of range"},
        {entry(R"("id": ")" + id + R"(", "addrs": [7])"), Code::corrupt,
         "peers[0].addrs[0] is not a string"},
        {entry(R"("id": ")" + id + R"(", "addrs": ["/ip4/0.0.0.0/tcp/1"])"), Code::corrupt,
         "not dialable"},
        {entry(R"("id": ")" + id + R"(", "addrs": [], "source": "friend")"), Code::corrupt,
         "peers[0].source \"friend\""},
        {entry(R"("id": ")" + id +
               R"(", "addrs": [], "source": "inbound", "last_seen_unix_ms": -1)"),
         Code::corrupt, "last_seen_unix_ms"},
        {entry(R"("id": ")" + id +
               R"(", "addrs": [], "source": "inbound", "last_seen_unix_ms": 1, "failures": 1.5)"),
         Code::corrupt, "failures"},
        {R"({"version": 1, "peers": [{)" + good_fields + "}, {" + good_fields + "}]}",
         Code::corrupt, "peers[1] repeats peer"},
    };
    for (const auto& c : cases) {
      CAPTURE(c.text);
      write_file(path, c.text);
      PeerStore store(peer_of(0));
      REQUIRE(store.add(peer_of(9), std::vector{addr_n(9)}, PeerSource::bootstrap, t0));
      Status st = store.load(path, t0);
      REQUIRE_FALSE(st);
      CHECK(st.code() == c.code);
      CHECK_MESSAGE(st.message().find(c.message) != std::string::npos, st.message());
      CHECK(store.size() == 1);  // unchanged: the daemon carries on
      CHECK(store.find(peer_of(9)) != nullptr);
    }

    // The good entry itself loads.
    write_file(path, entry(good_fields));
    PeerStore store(peer_of(0));
    REQUIRE(store.load(path, t0));
    CHECK(store.size() == 1);

    PeerStore none(peer_of(0));
    CHECK(none.load(dir.sub("missing.json"), t0).code() == Code::not_found);
    write_file(path, std::string(kMaxPeerStoreFile + 1, ' '));
    CHECK(none.load(path, t0).code() == Code::too_large);
    CHECK(none.save(dir.sub("no/such/dir/peers.json")).code() == Code::io_error);
  }
}
