// The generic Noise layer: every cacophony vector in tests/vectors/noise.json
// byte for byte (handshake, handshake hash, transport after Split()), then
// the failure paths: configuration, turn order, truncation, bounds,
// low-order keys, nonce exhaustion and rekey.
#include <doctest/doctest.h>

#include "tests/unit/hex.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "net/noise.h"

using namespace trellis;
using trellis::testing::from_hex;
using namespace trellis::net;

namespace {

template <size_t N>
std::array<uint8_t, N> array_from_hex(std::string_view hex) {
  const Bytes b = from_hex(hex);
  REQUIRE(b.size() == N);
  std::array<uint8_t, N> a{};
  std::copy(b.begin(), b.end(), a.begin());
  return a;
}

bool contains(const std::string& s, std::string_view part) {
  return s.find(part) != std::string::npos;
}

NoiseConfig xxpsk3_config(bool initiator) {
  NoiseConfig c;
  c.protocol = {NoisePattern::XXpsk3, NoiseHash::SHA256};
  c.initiator = initiator;
  c.prologue = Bytes{'p'};
  c.s = NoiseKeyPair::generate();
  c.psk = std::array<uint8_t, 32>{7};
  return c;
}

HandshakeState make(const NoiseConfig& c) {
  auto hs = HandshakeState::create(c);
  REQUIRE_MESSAGE(hs, hs.status().message());
  return std::move(*hs);
}

}  // namespace

TEST_SUITE("noise") {
  TEST_CASE("noise: every cacophony vector, byte for byte") {
    std::ifstream in(std::string(TRELLIS_SOURCE_DIR) + "/tests/vectors/noise.json");
    REQUIRE(in.good());
    const auto doc = nlohmann::json::parse(in);
    const auto& vectors = doc.at("vectors");
    REQUIRE(vectors.size() == 6);
    size_t checked = 0;
    for (const auto& v : vectors) {
      const std::string name = v.at("protocol_name");
      CAPTURE(name);
      auto protocol = NoiseProtocol::parse(name);
      REQUIRE_MESSAGE(protocol, protocol.status().message());
      CHECK(protocol->name() == name);

      NoiseConfig ic, rc;
      ic.protocol = rc.protocol = *protocol;
      ic.initiator = true;
      rc.initiator = false;
      ic.prologue = from_hex(v.at("init_prologue").get<std::string>());
      rc.prologue = from_hex(v.at("resp_prologue").get<std::string>());
      ic.e =
          NoiseKeyPair::from_private(array_from_hex<32>(v.at("init_ephemeral").get<std::string>()));
      rc.e =
          NoiseKeyPair::from_private(array_from_hex<32>(v.at("resp_ephemeral").get<std::string>()));
      if (v.contains("init_static")) {
        ic.s =
            NoiseKeyPair::from_private(array_from_hex<32>(v.at("init_static").get<std::string>()));
        rc.s =
            NoiseKeyPair::from_private(array_from_hex<32>(v.at("resp_static").get<std::string>()));
      }
      if (v.contains("init_psks")) {
        REQUIRE(v.at("init_psks").size() == 1);
        ic.psk = array_from_hex<32>(v.at("init_psks")[0].get<std::string>());
        rc.psk = array_from_hex<32>(v.at("resp_psks")[0].get<std::string>());
      }
      HandshakeState init = make(ic), resp = make(rc);

      std::optional<NoiseSplit> isplit, rsplit;
      const auto& messages = v.at("messages");
      REQUIRE(messages.size() >= 4);
      for (size_t i = 0; i < messages.size(); ++i) {
        CAPTURE(i);
        const Bytes payload = from_hex(messages[i].at("payload").get<std::string>());
        const Bytes expected = from_hex(messages[i].at("ciphertext").get<std::string>());
        // Messages alternate initiator → responder → initiator …
        const bool from_initiator = i % 2 == 0;
        if (!init.done()) {
          HandshakeState& sender = from_initiator ? init : resp;
          HandshakeState& receiver = from_initiator ? resp : init;
          REQUIRE(sender.my_turn());
          REQUIRE_FALSE(receiver.my_turn());
          Bytes wire;
          REQUIRE(sender.write_message(payload, wire));
          CHECK(to_hex(wire) == to_hex(expected));
          Bytes got;
          REQUIRE(receiver.read_message(wire, got));
          CHECK(got == payload);
          continue;
        }
        if (!isplit) {
          REQUIRE(resp.done());
          const std::string hash = v.at("handshake_hash");
          CHECK(to_hex(init.handshake_hash()) == hash);
          CHECK(to_hex(resp.handshake_hash()) == hash);
          auto a = init.split();
          auto b = resp.split();
          REQUIRE(a);
          REQUIRE(b);
          isplit = std::move(*a);
          rsplit = std::move(*b);
        }
        // c1 carries initiator → responder traffic, c2 the other way.
        CipherState& send = from_initiator ? isplit->c1 : rsplit->c2;
        CipherState& recv = from_initiator ? rsplit->c1 : isplit->c2;
        Bytes wire(payload.size() + kNoiseTag);
        REQUIRE(send.encrypt_with_ad({}, payload, wire.data()));
        CHECK(to_hex(wire) == to_hex(expected));
        Bytes got(wire.size() - kNoiseTag);
        REQUIRE(recv.decrypt_with_ad({}, wire, got.data()));
        CHECK(got == payload);
        ++checked;
      }
      CHECK(isplit.has_value());
    }
    CHECK(checked == 20);  // NN: 4 transport messages per vector, XX and XXpsk3: 3
  }

  TEST_CASE("noise: protocol names") {
    for (std::string_view n :
         {"Noise_NN_25519_ChaChaPoly_SHA256", "Noise_XX_25519_ChaChaPoly_BLAKE2b",
          "Noise_XXpsk3_25519_ChaChaPoly_SHA256"}) {
      auto p = NoiseProtocol::parse(n);
      REQUIRE(p);
      CHECK(p->name() == n);
    }
    for (std::string_view n :
         {"", "Noise", "Noise_IK_25519_ChaChaPoly_SHA256", "Noise_XX_448_ChaChaPoly_SHA256",
          "Noise_XX_25519_AESGCM_SHA256", "Noise_XX_25519_ChaChaPoly_SHA512",
          "Noise_XX_25519_ChaChaPoly_SHA256_extra", "NoiseXX_25519_ChaChaPoly_SHA256"}) {
      CAPTURE(n);
      auto p = NoiseProtocol::parse(n);
      REQUIRE_FALSE(p);
      CHECK(p.status().code() == Code::unsupported);
    }
  }

  TEST_CASE("noise: configurations missing or adding keys are refused") {
    NoiseConfig c = xxpsk3_config(true);
    c.psk.reset();
    CHECK(contains(HandshakeState::create(c).status().message(), "needs a pre-shared key"));
    c = xxpsk3_config(true);
    c.s.reset();
    CHECK(contains(HandshakeState::create(c).status().message(), "needs a local static key"));
    c = xxpsk3_config(true);
    c.protocol.pattern = NoisePattern::XX;
    CHECK(contains(HandshakeState::create(c).status().message(), "takes no pre-shared key"));
    c.psk.reset();
    c.protocol.pattern = NoisePattern::NN;
    CHECK(contains(HandshakeState::create(c).status().message(), "takes no static key"));
    CHECK_FALSE(HandshakeState().my_turn());
    Bytes out;
    CHECK_FALSE(HandshakeState().write_message({}, out));
  }

  TEST_CASE("noise: turn order, Split() and use after failure") {
    HandshakeState init = make(xxpsk3_config(true));
    HandshakeState resp = make(xxpsk3_config(false));
    Bytes m, p;
    CHECK_FALSE(init.split());
    // The responder may not write first; that failure ends its handshake.
    CHECK(contains(resp.write_message({}, m).message(), "is the peer's to write"));
    CHECK(resp.failed());
    CHECK_FALSE(resp.read_message(Bytes(48), p));
    // Reading when we should write fails too.
    HandshakeState init2 = make(xxpsk3_config(true));
    CHECK(contains(init2.read_message(Bytes(48), p).message(), "ours to write"));
    CHECK(init2.failed());
    CHECK_FALSE(init2.done());
  }

  TEST_CASE("noise: truncated or oversize handshake messages fail cleanly") {
    // Record a real XXpsk3 exchange, then replay each message cut short.
    for (size_t step = 0; step < 3; ++step) {
      CAPTURE(step);
      for (size_t cut : {0, 1, 31, 32, 47}) {
        CAPTURE(cut);
        HandshakeState init = make(xxpsk3_config(true));
        HandshakeState resp = make(xxpsk3_config(false));
        Bytes msg, payload;
        for (size_t i = 0; i <= step; ++i) {
          HandshakeState& w = i % 2 == 0 ? init : resp;
          HandshakeState& r = i % 2 == 0 ? resp : init;
          msg.clear();
          REQUIRE(w.write_message(Bytes{1, 2, 3}, msg));
          if (i < step) {
            REQUIRE(r.read_message(msg, payload));
            continue;
          }
          const Bytes shortened(msg.begin(), msg.begin() + std::min(cut, msg.size()));
          const Status st = r.read_message(shortened, payload);
          CHECK(st.code() == Code::corrupt);
          CHECK(r.failed());
          CHECK(payload.empty());
        }
      }
    }
    HandshakeState resp = make(xxpsk3_config(false));
    Bytes payload;
    const Status st = resp.read_message(Bytes(kNoiseMaxMessage + 1), payload);
    CHECK(st.code() == Code::too_large);

    HandshakeState init = make(xxpsk3_config(true));
    Bytes out;
    CHECK(init.write_message(Bytes(kNoiseMaxMessage - 32 - 16 + 1), out).code() == Code::too_large);
    CHECK(out.empty());
    HandshakeState init2 = make(xxpsk3_config(true));
    CHECK(init2.write_message(Bytes(kNoiseMaxMessage - 32 - 16), out));
    CHECK(out.size() == kNoiseMaxMessage);
    Bytes got;
    HandshakeState resp2 = make(xxpsk3_config(false));
    CHECK(resp2.read_message(out, got));
    CHECK(got.size() == kNoiseMaxMessage - 48);
  }

  TEST_CASE("noise: a low-order ephemeral key is refused") {
    NoiseConfig rc;
    rc.protocol = {NoisePattern::NN, NoiseHash::SHA256};
    rc.initiator = false;
    HandshakeState resp = make(rc);
    Bytes payload, out;
    // The all-zero point has order 1: every DH with it yields zero.
    REQUIRE(resp.read_message(Bytes(32, 0), payload));
    const Status st = resp.write_message({}, out);
    CHECK(st.code() == Code::corrupt);
    CHECK(contains(st.message(), "low-order"));
    CHECK(resp.failed());
  }

  TEST_CASE("noise: CipherState nonces, tampering and rekey") {
    const std::array<uint8_t, 32> key{1, 2, 3};
    CipherState a, b;
    a.initialize_key(key.data());
    b.initialize_key(key.data());
    const Bytes msg = {'h', 'i'};
    Bytes ct(msg.size() + kNoiseTag), pt(msg.size());
    REQUIRE(a.encrypt_with_ad(Bytes{9}, msg, ct.data()));
    CHECK(a.nonce() == 1);
    // Wrong associated data, then a flipped bit: both fail without consuming
    // the nonce, so the genuine message still decrypts.
    CHECK_FALSE(b.decrypt_with_ad(Bytes{8}, ct, pt.data()));
    Bytes bad = ct;
    bad[0] ^= 1;
    CHECK_FALSE(b.decrypt_with_ad(Bytes{9}, bad, pt.data()));
    CHECK(b.nonce() == 0);
    REQUIRE(b.decrypt_with_ad(Bytes{9}, ct, pt.data()));
    CHECK(pt == msg);
    CHECK_FALSE(b.decrypt_with_ad({}, Bytes(15), pt.data()));

    // Nonce 2^64-1 is reserved.
    a.set_nonce(~uint64_t{0});
    CHECK(contains(a.encrypt_with_ad({}, msg, ct.data()).message(), "nonce exhausted"));
    b.set_nonce(~uint64_t{0});
    CHECK(contains(b.decrypt_with_ad({}, ct, pt.data()).message(), "nonce exhausted"));

    // Rekey: both sides move to the same new key, and the old one stops working.
    CipherState c, d, old;
    c.initialize_key(key.data());
    d.initialize_key(key.data());
    old.initialize_key(key.data());
    c.rekey();
    d.rekey();
    REQUIRE(c.encrypt_with_ad({}, msg, ct.data()));
    CHECK_FALSE(old.decrypt_with_ad({}, ct, pt.data()));
    REQUIRE(d.decrypt_with_ad({}, ct, pt.data()));
    CHECK(pt == msg);

    // Without a key the bytes pass through unchanged (handshake semantics).
    CipherState none;
    Bytes same(2);
    REQUIRE(none.encrypt_with_ad({}, msg, same.data()));
    CHECK(same == msg);
  }

}  // TEST_SUITE("noise")
