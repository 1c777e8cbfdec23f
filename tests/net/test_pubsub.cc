// Pubsub: the codec and its bounds, signatures over every field, the seen
// cache, validators, relay rules, and a 50-node in-process network where one
// publish reaches everyone at a cost of at most D sends per node.
#include <doctest/doctest.h>

#include <deque>
#include <msgpack.hpp>
#include <random>
#include <set>
#include <string>

#include "net/identity.h"
#include "net/pubsub.h"

using namespace trellis;
using namespace trellis::net;
using namespace std::chrono_literals;

namespace {

Identity identity_of(uint32_t n) {
  Bytes seed(32, 0x3c);
  for (int i = 0; i < 4; ++i) seed[i] = static_cast<uint8_t>(n >> (8 * i));
  return Identity::from_seed(seed);
}

Bytes bytes_of(std::string_view s) {
  auto v = as_bytes(s);
  return Bytes(v.begin(), v.end());
}

const PubsubClock::time_point t0{};

using Verdict = Pubsub::Received::Verdict;
using Reject = Pubsub::Received::Reject;

// Hand-built msgpack for the codec's error paths.
struct Packer {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk{buf};
  Packer& array(uint32_t n) { return pk.pack_array(n), *this; }
  Packer& uint(uint64_t v) { return pk.pack_uint64(v), *this; }
  Packer& sint(int64_t v) { return pk.pack_int64(v), *this; }
  Packer& str(std::string_view s) {
    pk.pack_str(static_cast<uint32_t>(s.size()));
    pk.pack_str_body(s.data(), static_cast<uint32_t>(s.size()));
    return *this;
  }
  Packer& bin(ByteView b) {
    pk.pack_bin(static_cast<uint32_t>(b.size()));
    pk.pack_bin_body(reinterpret_cast<const char*>(b.data()), static_cast<uint32_t>(b.size()));
    return *this;
  }
  Bytes bytes() const {
    const auto* p = reinterpret_cast<const uint8_t*>(buf.data());
    return Bytes(p, p + buf.size());
  }
};

// A message with each field replaceable.
Bytes pack_message(uint64_t version, std::string_view topic, ByteView origin, uint64_t seqno,
                   ByteView data, ByteView sig) {
  Packer p;
  p.array(6).uint(version).str(topic).bin(origin).uint(seqno).bin(data).bin(sig);
  return p.bytes();
}

}  // namespace

TEST_SUITE("pubsub") {
  TEST_CASE("encode, decode, sign and verify") {
    const Identity alice = identity_of(1);
    auto m = sign_pubsub(alice, "trellis/heads", 42, bytes_of("hello"));
    CHECK(m.origin == alice.id());
    CHECK(verify_pubsub(m));
    const Bytes wire = encode_pubsub(m);
    auto back = decode_pubsub(wire);
    REQUIRE_MESSAGE(back, back.status().message());
    CHECK(*back == m);
    CHECK(verify_pubsub(*back));

    // Signing bytes: domain, then length-prefixed fields.
    const Bytes sb = pubsub_signing_bytes("t", alice.id(), 1, bytes_of("d"));
    CHECK(as_chars(ByteView(sb).subspan(0, 15)) == "trellis-pubsub:");
    CHECK(sb.size() == 15 + 2 + 1 + 38 + 8 + 8 + 1);

    // Empty data is fine.
    auto empty = sign_pubsub(alice, "t", 0, {});
    auto e2 = decode_pubsub(encode_pubsub(empty));
    REQUIRE(e2);
    CHECK(verify_pubsub(*e2));
  }

  TEST_CASE("tampering with any signed field breaks the signature") {
    const Identity alice = identity_of(1), mallory = identity_of(2);
    const auto m = sign_pubsub(alice, "topic", 7, bytes_of("payload"));
    auto data = m;
    data.data[0] ^= 1;
    auto seq = m;
    seq.seqno++;
    auto topic = m;
    topic.topic = "topiC";
    auto origin = m;
    origin.origin = mallory.id();
    auto sig = m;
    sig.signature[10] ^= 0x40;
    auto extended = m;
    extended.data.push_back(0);
    for (const auto* t : {&data, &seq, &topic, &origin, &sig, &extended}) {
      CHECK_FALSE(verify_pubsub(*t));
      Pubsub node(identity_of(3), 1);
      auto r = node.on_message(alice.id(), encode_pubsub(*t), {}, t0);
      CHECK(r.verdict == Verdict::rejected);
      CHECK(r.reject == Reject::signature);
      CHECK(r.reason.message().find("bad signature") != std::string::npos);
      CHECK(node.counters().rejected_signature == 1);
      CHECK(node.seen_size() == 0);  // a forgery is not remembered
    }
    // Moving bytes between topic and data does not produce a valid message.
    auto shifted = sign_pubsub(alice, "ab", 1, bytes_of("c"));
    shifted.topic = "a";
    shifted.data = bytes_of("bc");
    CHECK_FALSE(verify_pubsub(shifted));
  }

  TEST_CASE("decode errors") {
    const Identity alice = identity_of(1);
    const Bytes id = alice.id().bytes();
    const Bytes sig(64, 1), data = bytes_of("x");
    Bytes good = pack_message(1, "t", id, 1, data, sig);
    REQUIRE(decode_pubsub(good));

    Bytes bad_id = id;
    bad_id[0] = 0x12;  // sha2-256 multihash code: not an Ed25519 identity
    Bytes trailing = good;
    trailing.push_back(0);
    Bytes truncated(good.begin(), good.end() - 1);
    // A bin header announcing 4 GiB followed by nothing.
    const Bytes huge_bin = {0x96, 0x01, 0xa1, 't', 0xc6, 0xff, 0xff, 0xff, 0xff};
    // A bin within the limit, but the input ends first.
    const Bytes short_bin = {0x96, 0x01, 0xa1, 't', 0xc6, 0x00, 0x00, 0x10, 0x00, 0x01};
    // Deeply nested arrays.
    const Bytes nested(200, 0x91);

    struct Case {
      const char* name;
      Bytes bytes;
      Code code;
      std::string message;
    };
    const Case cases[] = {
        {"empty", {}, Code::corrupt, "empty"},
        {"trailing", trailing, Code::corrupt, "1 trailing bytes"},
        {"truncated", truncated, Code::corrupt, "truncated"},
        {"huge bin", huge_bin, Code::corrupt, "truncated"},  // no 4 GiB allocation
        {"short bin", short_bin, Code::corrupt, "truncated"},
        {"nested", nested, Code::corrupt, "not valid msgpack"},
        {"not array", Packer().uint(1).bytes(), Code::corrupt, "not an array"},
        {"map", Bytes{0x81, 0x01, 0x02}, Code::corrupt, "not valid msgpack"},
        {"no version", Packer().array(1).str("x").bytes(), Code::corrupt, "version number"},
        {"version 2", pack_message(2, "t", id, 1, data, sig), Code::unsupported, "version 2"},
        {"5 fields", Packer().array(5).uint(1).str("t").bin(id).uint(1).bin(data).bytes(),
         Code::corrupt, "has 5 fields"},
        {"7 fields",
         Packer().array(7).uint(1).str("t").bin(id).uint(1).bin(data).bin(sig).uint(0).bytes(),
         Code::corrupt, "not valid msgpack"},  // the parser's array bound
        {"topic bin",
         Packer().array(6).uint(1).bin(data).bin(id).uint(1).bin(data).bin(sig).bytes(),
         Code::corrupt, "topic is not a string"},
        {"topic empty", pack_message(1, "", id, 1, data, sig), Code::corrupt, "topic is empty"},
        {"topic space", pack_message(1, "a b", id, 1, data, sig), Code::corrupt, "byte 0x20"},
        {"topic long", pack_message(1, std::string(129, 'a'), id, 1, data, sig), Code::corrupt,
         "not valid msgpack"},
        {"origin str",
         Packer().array(6).uint(1).str("t").str("o").uint(1).bin(data).bin(sig).bytes(),
         Code::corrupt, "origin is not binary"},
        {"origin short", pack_message(1, "t", ByteView(id).subspan(0, 37), 1, data, sig),
         Code::corrupt, "origin is 37 bytes"},
        {"origin bad", pack_message(1, "t", bad_id, 1, data, sig), Code::corrupt, "origin:"},
        {"seqno negative",
         Packer().array(6).uint(1).str("t").bin(id).sint(-1).bin(data).bin(sig).bytes(),
         Code::corrupt, "seqno is not an unsigned"},
        {"data str", Packer().array(6).uint(1).str("t").bin(id).uint(1).str("x").bin(sig).bytes(),
         Code::corrupt, "data is not binary"},
        {"sig short", pack_message(1, "t", id, 1, data, Bytes(63, 0)), Code::corrupt,
         "signature is 63 bytes"},
        {"sig long", pack_message(1, "t", id, 1, data, Bytes(65, 0)), Code::corrupt,
         "signature is 65 bytes"},
    };
    for (const auto& c : cases) {
      const std::string name = c.name;
      CAPTURE(name);
      auto r = decode_pubsub(c.bytes);
      REQUIRE_FALSE(r);
      CHECK(r.status().code() == c.code);
      CHECK_MESSAGE(r.status().message().find(c.message) != std::string::npos,
                    r.status().message());
    }

    // Data bounds: at the limit is fine, one byte over is not.
    const Bytes at_limit(100, 7), over(101, 7);
    CHECK(decode_pubsub(pack_message(1, "t", id, 1, at_limit, sig), 100));
    auto r = decode_pubsub(pack_message(1, "t", id, 1, over, sig), 100);
    REQUIRE_FALSE(r);
    CHECK(r.status().code() == Code::too_large);
    CHECK(r.status().message() == "pubsub data is 101 bytes, limit 100");
    // The parser's own bin bound stops a large bin before it is looked at.
    auto parser = decode_pubsub(pack_message(1, "t", id, 1, Bytes(300, 7), sig), 100);
    REQUIRE_FALSE(parser);
    CHECK(parser.status().message().find("bin size overflow") != std::string::npos);
    auto big = decode_pubsub(Bytes(100 + kPubsubOverhead + 1, 0), 100);
    REQUIRE_FALSE(big);
    CHECK(big.status().code() == Code::too_large);
  }

  TEST_CASE("topic names") {
    CHECK(check_topic("trellis/heads/v1"));
    CHECK(check_topic(std::string(kMaxTopicBytes, 'x')));
    CHECK_FALSE(check_topic(std::string(kMaxTopicBytes + 1, 'x')));
    CHECK_FALSE(check_topic(""));
    CHECK_FALSE(check_topic("a\nb"));
    CHECK_FALSE(check_topic("caf\xc3\xa9"));
  }

  TEST_CASE("publish: seqnos, fan-out, no local delivery, bounds") {
    const Identity self = identity_of(1);
    Pubsub node(self, 1'700'000'000'000'000'000ULL, {.fanout = 3, .max_data_bytes = 10});
    int delivered = 0;
    REQUIRE(node.subscribe("t", [&](const PubsubMessage&, const PeerId&) { ++delivered; }));
    std::vector<PeerId> connected;
    for (uint32_t i = 10; i < 20; ++i) connected.push_back(identity_of(i).id());
    connected.push_back(self.id());  // never picked

    auto a = node.publish("t", bytes_of("one"), connected, t0);
    REQUIRE(a);
    CHECK(a->seqno == 1'700'000'000'000'000'000ULL);
    CHECK(a->send_to.size() == 3);
    CHECK(std::set<PeerId>(a->send_to.begin(), a->send_to.end()).size() == 3);
    for (const auto& p : a->send_to) CHECK(p != self.id());
    auto m = decode_pubsub(a->encoded);
    REQUIRE(m);
    CHECK(m->seqno == a->seqno);
    CHECK(m->topic == "t");
    CHECK(verify_pubsub(*m));

    auto b = node.publish("t", bytes_of("two"), std::span<const PeerId>(connected).first(2), t0);
    REQUIRE(b);
    CHECK(b->seqno == a->seqno + 1);
    CHECK(b->send_to.size() == 2);
    CHECK(delivered == 0);

    CHECK(node.publish("bad topic", {}, connected, t0).status().code() == Code::invalid_argument);
    CHECK(node.publish("t", Bytes(11, 0), connected, t0).status().code() == Code::too_large);
    CHECK(node.counters().published == 2);
    CHECK(node.counters().sent == 5);

    // Our own message coming back is a duplicate.
    auto r = node.on_message(connected[0], a->encoded, connected, t0);
    CHECK(r.verdict == Verdict::duplicate);
    CHECK(delivered == 0);
  }

  TEST_CASE("receive: deliver once, forward to at most D excluding sender and origin") {
    const Identity alice = identity_of(1), bob = identity_of(2);
    Pubsub node(identity_of(3), 1, {.fanout = 4});
    std::vector<std::pair<PubsubMessage, PeerId>> got;
    REQUIRE(node.subscribe(
        "t", [&](const PubsubMessage& m, const PeerId& from) { got.emplace_back(m, from); }));
    std::vector<PeerId> connected = {alice.id(), bob.id()};
    for (uint32_t i = 10; i < 20; ++i) connected.push_back(identity_of(i).id());

    for (uint64_t seq = 1; seq <= 30; ++seq) {
      const Bytes wire = encode_pubsub(sign_pubsub(alice, "t", seq, bytes_of("x")));
      auto r = node.on_message(bob.id(), wire, connected, t0);
      REQUIRE(r.verdict == Verdict::accepted);
      CHECK(r.delivered);
      CHECK(r.topic == "t");
      CHECK(r.forward_to.size() == 4);
      CHECK(std::set<PeerId>(r.forward_to.begin(), r.forward_to.end()).size() == 4);
      for (const auto& p : r.forward_to) {
        CHECK(p != alice.id());
        CHECK(p != bob.id());
      }
      // Every further copy is a duplicate, from whoever.
      for (const auto& from : {bob.id(), alice.id(), connected[5]}) {
        auto d = node.on_message(from, wire, connected, t0 + 1s);
        CHECK(d.verdict == Verdict::duplicate);
        CHECK(d.forward_to.empty());
        CHECK_FALSE(d.delivered);
      }
    }
    REQUIRE(got.size() == 30);
    CHECK(got[0].first.origin == alice.id());
    CHECK(got[0].second == bob.id());
    CHECK(node.counters().accepted == 30);
    CHECK(node.counters().delivered == 30);
    CHECK(node.counters().duplicates == 90);
    CHECK(node.counters().forwarded == 120);

    // Fewer eligible peers than D: all of them.
    const Bytes wire = encode_pubsub(sign_pubsub(alice, "t", 99, {}));
    std::vector<PeerId> few = {alice.id(), bob.id(), connected[4]};
    auto r = node.on_message(bob.id(), wire, few, t0);
    CHECK(r.forward_to == std::vector<PeerId>{connected[4]});

    // Garbage is rejected and counted.
    auto g = node.on_message(bob.id(), bytes_of("garbage"), connected, t0);
    CHECK(g.verdict == Verdict::rejected);
    CHECK(g.reject == Reject::decode);
    CHECK(node.counters().rejected_decode == 1);
    CHECK(node.counters().rejected == 1);
  }

  TEST_CASE("seen cache: bounded by capacity and by age") {
    const Identity alice = identity_of(1);
    Pubsub node(identity_of(3), 1, {.seen_capacity = 4, .seen_ttl = 10s});
    auto wire = [&](uint64_t seq) { return encode_pubsub(sign_pubsub(alice, "t", seq, {})); };
    for (uint64_t s = 1; s <= 5; ++s) {
      CHECK(node.on_message(alice.id(), wire(s), {}, t0).verdict == Verdict::accepted);
    }
    CHECK(node.seen_size() == 4);
    CHECK(node.on_message(alice.id(), wire(5), {}, t0).verdict == Verdict::duplicate);
    CHECK(node.on_message(alice.id(), wire(2), {}, t0).verdict == Verdict::duplicate);
    // 1 was pushed out by 5.
    CHECK(node.on_message(alice.id(), wire(1), {}, t0).verdict == Verdict::accepted);
    CHECK(node.seen_size() == 4);

    // After the TTL everything is forgotten.
    CHECK(node.on_message(alice.id(), wire(4), {}, t0 + 9s).verdict == Verdict::duplicate);
    CHECK(node.on_message(alice.id(), wire(4), {}, t0 + 10s).verdict == Verdict::accepted);
    CHECK(node.seen_size() == 1);

    // The cache on its own: many entries, one capacity.
    SeenCache cache(1000, 1min);
    for (uint64_t s = 0; s < 100000; ++s) {
      const SeenCache::Key k{alice.public_key(), s};
      if (!cache.contains(k, t0)) cache.insert(k, t0);
    }
    CHECK(cache.size() == 1000);
    CHECK(cache.contains({alice.public_key(), 99999}, t0));
    CHECK_FALSE(cache.contains({alice.public_key(), 98999}, t0));
    cache.expire(t0 + 1min);
    CHECK(cache.size() == 0);
  }

  TEST_CASE("validators reject, and rejected messages are remembered") {
    const Identity alice = identity_of(1), bob = identity_of(2);
    Pubsub node(identity_of(3), 1);
    int delivered = 0;
    REQUIRE(node.subscribe("t", [&](const PubsubMessage&, const PeerId&) { ++delivered; }));
    PeerId validated_from;
    REQUIRE(node.set_validator("t", [&](const PubsubMessage& m, const PeerId& from) {
      validated_from = from;
      return !m.data.empty() && m.data[0] == 'y';
    }));
    std::vector<PeerId> connected = {alice.id(), bob.id(), identity_of(9).id()};
    const Bytes no = encode_pubsub(sign_pubsub(alice, "t", 1, bytes_of("no")));
    auto r = node.on_message(bob.id(), no, connected, t0);
    CHECK(r.verdict == Verdict::rejected);
    CHECK(r.reject == Reject::validator);
    CHECK(r.forward_to.empty());
    CHECK(validated_from == bob.id());
    CHECK(node.on_message(bob.id(), no, connected, t0).verdict == Verdict::duplicate);

    const Bytes yes = encode_pubsub(sign_pubsub(alice, "t", 2, bytes_of("yes")));
    CHECK(node.on_message(bob.id(), yes, connected, t0).verdict == Verdict::accepted);
    CHECK(delivered == 1);
    CHECK(node.counters().rejected_validator == 1);

    // Removing the validator.
    REQUIRE(node.set_validator("t", nullptr));
    const Bytes no2 = encode_pubsub(sign_pubsub(alice, "t", 3, bytes_of("no")));
    CHECK(node.on_message(bob.id(), no2, connected, t0).verdict == Verdict::accepted);
    CHECK_FALSE(node.set_validator("", nullptr));
  }

  TEST_CASE("unsubscribed topics are relayed, not delivered (unless relaying is off)") {
    const Identity alice = identity_of(1), bob = identity_of(2);
    std::vector<PeerId> connected = {alice.id(), bob.id(), identity_of(9).id()};
    const Bytes wire = encode_pubsub(sign_pubsub(alice, "other", 1, {}));

    Pubsub relay(identity_of(3), 1);
    auto r = relay.on_message(bob.id(), wire, connected, t0);
    CHECK(r.verdict == Verdict::accepted);
    CHECK_FALSE(r.delivered);
    CHECK(r.forward_to == std::vector<PeerId>{identity_of(9).id()});

    Pubsub quiet(identity_of(3), 1, {.relay_unsubscribed = false});
    auto q = quiet.on_message(bob.id(), wire, connected, t0);
    CHECK(q.verdict == Verdict::accepted);
    CHECK(q.forward_to.empty());
  }

  TEST_CASE("handlers may unsubscribe and publish from inside on_message") {
    const Identity alice = identity_of(1);
    Pubsub node(identity_of(3), 5);
    std::vector<PeerId> connected = {alice.id()};
    int calls = 0;
    uint64_t echoed = 0;
    REQUIRE(node.subscribe("t", [&](const PubsubMessage&, const PeerId&) {
      ++calls;
      node.unsubscribe("t");
      auto p = node.publish("echo", bytes_of("e"), connected, t0);
      REQUIRE(p);
      echoed = p->seqno;
    }));
    CHECK(node.subscribed("t"));
    node.on_message(alice.id(), encode_pubsub(sign_pubsub(alice, "t", 1, {})), connected, t0);
    node.on_message(alice.id(), encode_pubsub(sign_pubsub(alice, "t", 2, {})), connected, t0);
    CHECK(calls == 1);
    CHECK(echoed == 5);
    CHECK_FALSE(node.subscribed("t"));
    CHECK_FALSE(node.subscribe("t", nullptr));
    CHECK_FALSE(node.subscribe("bad topic", [](const PubsubMessage&, const PeerId&) {}));
  }

  TEST_CASE("a 50-node random network: one publish reaches all, ≤ D sends per node") {
    constexpr size_t kNodes = 50, kFanout = 6, kDegree = 10;
    for (uint64_t seed = 1; seed <= 10; ++seed) {
      CAPTURE(seed);
      std::mt19937_64 rng(seed);
      std::vector<Identity> ids;
      for (uint32_t i = 0; i < kNodes; ++i) ids.push_back(identity_of(1000 + i));
      // A ring (so the graph is connected) plus random chords up to ~kDegree.
      std::vector<std::set<size_t>> adj(kNodes);
      for (size_t i = 0; i < kNodes; ++i) {
        adj[i].insert((i + 1) % kNodes);
        adj[(i + 1) % kNodes].insert(i);
      }
      std::uniform_int_distribution<size_t> any(0, kNodes - 1);
      for (size_t i = 0; i < kNodes; ++i) {
        while (adj[i].size() < kDegree) {
          const size_t j = any(rng);
          if (j != i) {
            adj[i].insert(j);
            adj[j].insert(i);
          }
        }
      }
      std::vector<std::vector<PeerId>> connected(kNodes);
      std::map<PeerId, size_t> index;
      for (size_t i = 0; i < kNodes; ++i) {
        index[ids[i].id()] = i;
        for (size_t j : adj[i]) connected[i].push_back(ids[j].id());
      }

      std::vector<std::unique_ptr<Pubsub>> nodes;
      std::vector<int> delivered(kNodes, 0);
      for (size_t i = 0; i < kNodes; ++i) {
        nodes.push_back(std::make_unique<Pubsub>(
            ids[i], 1, PubsubOptions{.fanout = kFanout, .seed = seed * 100 + i}));
        REQUIRE(nodes[i]->subscribe(
            "heads", [&delivered, i](const PubsubMessage&, const PeerId&) { ++delivered[i]; }));
      }

      const size_t origin = seed % kNodes;
      auto pub = nodes[origin]->publish("heads", bytes_of("root"), connected[origin], t0);
      REQUIRE(pub);
      struct InFlight {
        size_t from, to;
      };
      std::deque<InFlight> wire;
      for (const auto& p : pub->send_to) wire.push_back({origin, index.at(p)});
      size_t total = pub->send_to.size();
      std::vector<size_t> sent_by(kNodes, 0);
      sent_by[origin] = pub->send_to.size();
      while (!wire.empty()) {
        const InFlight f = wire.front();
        wire.pop_front();
        auto r = nodes[f.to]->on_message(ids[f.from].id(), pub->encoded, connected[f.to], t0);
        REQUIRE(r.verdict != Verdict::rejected);
        for (const auto& p : r.forward_to) {
          CHECK(p != ids[f.from].id());
          CHECK(p != ids[origin].id());
          wire.push_back({f.to, index.at(p)});
        }
        sent_by[f.to] += r.forward_to.size();
        total += r.forward_to.size();
      }
      for (size_t i = 0; i < kNodes; ++i) {
        CHECK(delivered[i] == (i == origin ? 0 : 1));
        CHECK(sent_by[i] <= kFanout);
      }
      CHECK(total <= kNodes * kFanout);
    }
  }
}
