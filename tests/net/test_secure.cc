// The Trellis secure channel: a full handshake and transport both ways, then
// each way it must refuse: wrong cluster secret, unexpected peer, forged or
// malformed payloads (built with the generic Noise layer playing a hostile
// peer), truncation, replay, garbage and oversize input.
#include <doctest/doctest.h>

#include <random>
#include <string>

#include "net/secure.h"

using namespace trellis;
using namespace trellis::net;

namespace {

bool contains(const std::string& s, std::string_view part) {
  return s.find(part) != std::string::npos;
}

// `from` writes its next message and `to` reads it; returns the read status
// and stores the message in *wire if asked.
Status step(SecureHandshake& from, SecureHandshake& to, Bytes* wire = nullptr) {
  auto m = from.write_message();
  REQUIRE_MESSAGE(m, m.status().message());
  if (wire != nullptr) *wire = *m;
  return to.read_message(*m);
}

struct Sessions {
  SecureSession initiator;
  SecureSession responder;
};

Sessions connect(const Identity& a, const Identity& b, const ClusterSecret& secret) {
  auto i = SecureHandshake::initiator(a, secret, b.id());
  auto r = SecureHandshake::responder(b, secret);
  REQUIRE(i.wants_write());
  REQUIRE_FALSE(r.wants_write());
  REQUIRE(step(i, r));
  REQUIRE(step(r, i));
  REQUIRE(step(i, r));
  REQUIRE(i.done());
  REQUIRE(r.done());
  CHECK_FALSE(i.wants_write());
  CHECK_FALSE(r.wants_write());
  auto si = i.finish();
  auto sr = r.finish();
  REQUIRE(si);
  REQUIRE(sr);
  return {std::move(*si), std::move(*sr)};
}

// One side of the Trellis handshake run directly on the Noise layer, so a
// test can put anything in the payload.
HandshakeState raw_side(bool initiator, const ClusterSecret& secret, const NoiseKeyPair& s) {
  auto protocol = NoiseProtocol::parse(kSecureProtocolName);
  REQUIRE(protocol);
  NoiseConfig c;
  c.protocol = *protocol;
  c.initiator = initiator;
  const ByteView prologue = as_bytes(kSecurePrologue);
  c.prologue.assign(prologue.begin(), prologue.end());
  c.s = s;
  c.psk = secret.bytes;
  auto hs = HandshakeState::create(c);
  REQUIRE(hs);
  return std::move(*hs);
}

Bytes bytes_of(const Bytes& b) {
  return b;
}

}  // namespace

TEST_SUITE("secure") {
  TEST_CASE("secure: full handshake and transport both ways") {
    const Identity a = Identity::generate(), b = Identity::generate();
    const ClusterSecret secret = ClusterSecret::generate();
    auto i = SecureHandshake::initiator(a, secret);  // no expectation: accepts anyone
    auto r = SecureHandshake::responder(b, secret);
    Bytes m1, m2, m3;
    REQUIRE(step(i, r, &m1));
    CHECK(r.remote().is_empty());
    REQUIRE(step(r, i, &m2));
    CHECK(i.remote() == b.id());
    REQUIRE(step(i, r, &m3));
    CHECK(r.remote() == a.id());
    // The wire sizes docs/net.md promises.
    CHECK(m1.size() == 48);
    CHECK(m2.size() == 193);
    CHECK(m3.size() == 161);
    auto si = i.finish();
    auto sr = r.finish();
    REQUIRE(si);
    REQUIRE(sr);
    CHECK(si->remote() == b.id());
    CHECK(sr->remote() == a.id());
    CHECK_FALSE(i.finish());  // only once

    for (size_t size : {size_t{0}, size_t{1}, size_t{1000}, kMaxPlaintext}) {
      CAPTURE(size);
      Bytes msg(size);
      for (size_t k = 0; k < size; ++k) msg[k] = static_cast<uint8_t>(k * 7);
      // encrypt appends: a length prefix already in the buffer survives.
      Bytes wire = {0xaa, 0xbb};
      si->encrypt(msg, wire);
      REQUIRE(wire.size() == 2 + size + kNoiseTagBytes);
      CHECK(wire[0] == 0xaa);
      Bytes out = {1, 2, 3};
      REQUIRE(sr->decrypt(ByteView(wire).subspan(2), out));
      CHECK(out == msg);
      // And back, decrypting in place.
      Bytes back;
      sr->encrypt(msg, back);
      REQUIRE(si->decrypt(back, back));
      CHECK(back == msg);
    }
  }

  TEST_CASE("secure: the two directions use different keys") {
    const ClusterSecret secret = ClusterSecret::generate();
    auto [a, b] = connect(Identity::generate(), Identity::generate(), secret);
    Bytes wire, out;
    a.encrypt(bytes_of({1, 2, 3}), wire);
    // A message reflected back at its sender does not decrypt.
    CHECK(a.decrypt(wire, out).code() == Code::corrupt);
    REQUIRE(b.decrypt(wire, out));
  }

  TEST_CASE("secure: a wrong cluster secret fails message 3 at the responder") {
    const Identity a = Identity::generate(), b = Identity::generate();
    auto i = SecureHandshake::initiator(a, ClusterSecret::generate(), b.id());
    auto r = SecureHandshake::responder(b, ClusterSecret::generate());
    REQUIRE(step(i, r));
    REQUIRE(step(r, i));
    const Status st = step(i, r);
    CHECK(st.code() == Code::corrupt);
    CHECK(contains(st.message(), "handshake failed: wrong cluster secret or corrupted message"));
    CHECK(r.failed());
    CHECK_FALSE(r.done());
    CHECK_FALSE(r.finish());
    // The initiator cannot tell yet; it learns when the responder hangs up.
    CHECK(i.done());
  }

  TEST_CASE("secure: the dialer refuses a peer other than the one it expected") {
    const Identity a = Identity::generate(), b = Identity::generate(), c = Identity::generate();
    const ClusterSecret secret = ClusterSecret::generate();
    auto i = SecureHandshake::initiator(a, secret, c.id());
    auto r = SecureHandshake::responder(b, secret);
    REQUIRE(step(i, r));
    const Status st = step(r, i);
    CHECK(st.code() == Code::denied);
    CHECK(contains(st.message(),
                   "expected peer " + c.id().to_string() + ", got " + b.id().to_string()));
    CHECK(i.failed());
    CHECK_FALSE(i.write_message());
    CHECK_FALSE(i.finish());
  }

  TEST_CASE("secure: forged or malformed payloads are refused") {
    const Identity a = Identity::generate(), b = Identity::generate(), c = Identity::generate();
    const ClusterSecret secret = ClusterSecret::generate();
    const NoiseKeyPair fake_static = NoiseKeyPair::generate();
    const NoiseKeyPair other_static = NoiseKeyPair::generate();

    HandshakePayload honest = HandshakePayload::make(b, fake_static.pub);
    HandshakePayload signed_by_other = honest;
    signed_by_other.signature = c.sign(static_key_signing_message(fake_static.pub));
    HandshakePayload other_key = HandshakePayload::make(b, other_static.pub);
    HandshakePayload flipped = honest;
    flipped.signature[5] ^= 0x40;
    Bytes wrong_domain_msg(fake_static.pub.begin(), fake_static.pub.end());
    HandshakePayload no_domain = honest;
    no_domain.signature = b.sign(wrong_domain_msg);
    Bytes v2 = honest.encode();
    v2[0] = 2;
    Bytes short_payload = honest.encode();
    short_payload.pop_back();

    struct Case {
      const char* name;
      Bytes payload;
      std::string want;
    };
    const Case cases[] = {
        {"honest (control)", honest.encode(), ""},
        {"signed by another identity", signed_by_other.encode(), "bad identity signature"},
        {"signature over another static key", other_key.encode(), "bad identity signature"},
        {"flipped signature bit", flipped.encode(), "bad identity signature"},
        {"signature without the domain string", no_domain.encode(), "bad identity signature"},
        {"version 2", v2, "version 2"},
        {"96-byte payload", short_payload, "expected 97"},
        {"empty payload", {}, "empty"},
    };
    for (const auto& tc : cases) {
      CAPTURE(tc.name);
      // A hostile responder answers a real initiator...
      auto i = SecureHandshake::initiator(a, secret);
      HandshakeState evil = raw_side(false, secret, fake_static);
      auto m1 = i.write_message();
      REQUIRE(m1);
      Bytes ignored, m2;
      REQUIRE(evil.read_message(*m1, ignored));
      REQUIRE(evil.write_message(tc.payload, m2));
      const Status st = i.read_message(m2);
      if (tc.want.empty()) {
        CHECK(st);
        CHECK(i.remote() == b.id());
      } else {
        CHECK_MESSAGE(contains(st.message(), tc.want), st.message());
        CHECK(i.failed());
      }

      // ...and a hostile initiator sends the same payload in message 3.
      auto r = SecureHandshake::responder(a, secret);
      HandshakeState evil_i = raw_side(true, secret, fake_static);
      Bytes e1, e3, got;
      REQUIRE(evil_i.write_message({}, e1));
      REQUIRE(r.read_message(e1));
      auto r2 = r.write_message();
      REQUIRE(r2);
      REQUIRE(evil_i.read_message(*r2, got));
      REQUIRE(evil_i.write_message(tc.payload, e3));
      const Status st3 = r.read_message(e3);
      if (tc.want.empty()) {
        CHECK(st3);
        CHECK(r.remote() == b.id());
      } else {
        CHECK_MESSAGE(contains(st3.message(), tc.want), st3.message());
        CHECK_FALSE(r.finish());
      }
    }

    // Message 1 must carry no payload.
    auto r = SecureHandshake::responder(b, secret);
    HandshakeState evil_i = raw_side(true, secret, fake_static);
    Bytes e1;
    REQUIRE(evil_i.write_message(Bytes{1}, e1));
    CHECK(contains(r.read_message(e1).message(), "unexpected 1-byte payload"));
  }

  TEST_CASE("secure: truncated or extended handshake messages are refused at each step") {
    const Identity a = Identity::generate(), b = Identity::generate();
    const ClusterSecret secret = ClusterSecret::generate();
    for (int target = 0; target < 3; ++target) {
      for (int change : {0, 1, 16, 31, 32, 47, -1, +1}) {
        CAPTURE(target);
        CAPTURE(change);
        auto i = SecureHandshake::initiator(a, secret, b.id());
        auto r = SecureHandshake::responder(b, secret);
        for (int k = 0; k < target; ++k) {
          const Status ok = k % 2 == 0 ? step(i, r) : step(r, i);
          REQUIRE(ok);
        }
        SecureHandshake& writer = target % 2 == 0 ? i : r;
        SecureHandshake& reader = target % 2 == 0 ? r : i;
        auto m = writer.write_message();
        REQUIRE(m);
        Bytes bad = *m;
        if (change == -1) {
          bad.pop_back();
        } else if (change == +1) {
          bad.push_back(0);
        } else {
          bad.resize(std::min(bad.size(), static_cast<size_t>(change)));
        }
        const Status st = reader.read_message(bad);
        CHECK_FALSE(st);
        CHECK(contains(st.message(), "handshake failed"));
        CHECK(reader.failed());
        CHECK_FALSE(reader.done());
        CHECK_FALSE(reader.wants_write());
        CHECK_FALSE(reader.write_message());
        CHECK_FALSE(reader.read_message(*m));  // unusable even for the genuine message
        CHECK_FALSE(reader.finish());
      }
    }
  }

  TEST_CASE("secure: messages replayed from an earlier handshake yield no session") {
    const Identity a = Identity::generate(), b = Identity::generate();
    const ClusterSecret secret = ClusterSecret::generate();
    auto i = SecureHandshake::initiator(a, secret, b.id());
    auto r = SecureHandshake::responder(b, secret);
    Bytes m1, m2, m3;
    REQUIRE(step(i, r, &m1));
    REQUIRE(step(r, i, &m2));
    REQUIRE(step(i, r, &m3));

    // Message 1 carries nothing secret, so a fresh responder accepts it, but
    // its new ephemeral key makes the old message 3 useless.
    auto fresh = SecureHandshake::responder(b, secret);
    REQUIRE(fresh.read_message(m1));
    REQUIRE(fresh.write_message());
    CHECK(contains(fresh.read_message(m3).message(), "handshake failed"));
    CHECK_FALSE(fresh.finish());

    // An old message 2 fails against a fresh initiator's new ephemeral key.
    auto fresh_i = SecureHandshake::initiator(a, secret, b.id());
    REQUIRE(fresh_i.write_message());
    CHECK_FALSE(fresh_i.read_message(m2));
    CHECK_FALSE(fresh_i.finish());
  }

  TEST_CASE("secure: random garbage never completes a handshake") {
    const Identity a = Identity::generate(), b = Identity::generate();
    const ClusterSecret secret = ClusterSecret::generate();
    std::mt19937 rng(12345);
    for (int n = 0; n < 200; ++n) {
      const size_t size = n < 100 ? rng() % 300 : std::array<size_t, 4>{48, 161, 193, 0}[n % 4];
      Bytes junk(size);
      for (auto& x : junk) x = static_cast<uint8_t>(rng());
      CAPTURE(size);
      auto r = SecureHandshake::responder(b, secret);
      CHECK_FALSE(r.read_message(junk));
      auto i = SecureHandshake::initiator(a, secret);
      REQUIRE(i.write_message());
      CHECK_FALSE(i.read_message(junk));
      auto r3 = SecureHandshake::responder(b, secret);
      auto i3 = SecureHandshake::initiator(a, secret);
      REQUIRE(step(i3, r3));
      REQUIRE(r3.write_message());
      CHECK_FALSE(r3.read_message(junk));
    }
  }

  TEST_CASE("secure: tampered, reordered, short and oversize transport messages fail") {
    auto [a, b] = connect(Identity::generate(), Identity::generate(), ClusterSecret::generate());
    Bytes w1, w2, out;
    a.encrypt(bytes_of({1, 2, 3, 4}), w1);
    a.encrypt(bytes_of({5, 6}), w2);
    // Out of order: message 2 under nonce 0 fails.
    CHECK(b.decrypt(w2, out).code() == Code::corrupt);
    for (size_t k = 0; k < w1.size(); ++k) {
      Bytes bad = w1;
      bad[k] ^= 0x01;
      out = {9};
      CHECK(b.decrypt(bad, out).code() == Code::corrupt);
      CHECK(out.empty());
    }
    CHECK(b.decrypt(ByteView(w1).first(15), out).code() == Code::corrupt);
    CHECK(b.decrypt({}, out).code() == Code::corrupt);
    const Status big = b.decrypt(Bytes(kMaxNoiseMessage + 1), out);
    CHECK(big.code() == Code::corrupt);
    CHECK(contains(big.message(), "exceeds the limit"));
    // Failures consumed no nonce: the genuine messages still decrypt in order.
    REQUIRE(b.decrypt(w1, out));
    CHECK(out == Bytes{1, 2, 3, 4});
    REQUIRE(b.decrypt(w2, out));
    CHECK(out == Bytes{5, 6});
    // Replaying an accepted message fails.
    CHECK_FALSE(b.decrypt(w1, out));
  }

  TEST_CASE("secure: oversize handshake messages and misuse are refused") {
    const Identity a = Identity::generate(), b = Identity::generate();
    const ClusterSecret secret = ClusterSecret::generate();
    auto r = SecureHandshake::responder(b, secret);
    const Status st = r.read_message(Bytes(kMaxNoiseMessage + 1));
    CHECK(st.code() == Code::too_large);
    CHECK(r.failed());

    auto r2 = SecureHandshake::responder(b, secret);
    CHECK_FALSE(r2.write_message());  // the initiator speaks first
    auto i = SecureHandshake::initiator(a, secret);
    CHECK_FALSE(i.finish());
    CHECK_FALSE(i.read_message(Bytes(48)));  // our turn to write, not read
  }

}  // TEST_SUITE("secure")
