// Feeds arbitrary bytes to the secure channel wherever the network can
// reach it. The first byte picks the target, the rest is the message:
//   0  message 1 to a fresh responder
//   1  message 2 to an initiator that has written message 1
//   2  message 3 to a responder that has read a real message 1 and answered
//   3  transport ciphertext to an established session
//   4  message 1 to a generic Noise_XX_25519_ChaChaPoly_BLAKE2b responder,
//      which then writes message 2 (covers the other hash and pattern)
// Besides "never crash", it checks that a failed read leaves the handshake
// unusable and that a successful one moves it on.
#include <cstdint>
#include <cstdlib>
#include <optional>

#include "net/noise.h"
#include "net/secure.h"

using namespace trellis;
using namespace trellis::net;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

struct Fixture {
  Identity a = Identity::from_seed(Bytes(32, 0x0a));
  Identity b = Identity::from_seed(Bytes(32, 0x0b));
  ClusterSecret secret = [] {
    ClusterSecret s;
    s.bytes.fill(0x5e);
    return s;
  }();
  // Failed decryptions consume no nonce, so one session serves every run.
  std::optional<SecureSession> session;

  Fixture() {
    auto i = SecureHandshake::initiator(a, secret, b.id());
    auto r = SecureHandshake::responder(b, secret);
    auto m1 = i.write_message();
    require(m1 && r.read_message(*m1));
    auto m2 = r.write_message();
    require(m2 && i.read_message(*m2));
    auto m3 = i.write_message();
    require(m3 && r.read_message(*m3));
    auto s = r.finish();
    require(s.is_ok());
    session.emplace(std::move(*s));
  }
};

void check_after_read(const SecureHandshake& h, const Status& st) {
  if (st) {
    require(!h.failed());
  } else {
    require(h.failed() && !h.done() && !h.wants_write());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static Fixture fx;
  const ByteView msg(data + 1, size - 1);
  switch (data[0] % 5) {
    case 0: {
      auto r = SecureHandshake::responder(fx.b, fx.secret);
      const Status st = r.read_message(msg);
      check_after_read(r, st);
      // A forged message 1 can be valid (it holds no secret); answering it
      // then either works or refuses a low-order key.
      if (st) {
        require(r.wants_write());
        (void)r.write_message();
      }
      break;
    }
    case 1: {
      auto i = SecureHandshake::initiator(fx.a, fx.secret, fx.b.id());
      require(i.write_message().is_ok());
      const Status st = i.read_message(msg);
      check_after_read(i, st);
      if (st) require(i.remote() == fx.b.id());
      break;
    }
    case 2: {
      auto i = SecureHandshake::initiator(fx.a, fx.secret, fx.b.id());
      auto r = SecureHandshake::responder(fx.b, fx.secret);
      auto m1 = i.write_message();
      require(m1 && r.read_message(*m1));
      require(r.write_message().is_ok());
      const Status st = r.read_message(msg);
      check_after_read(r, st);
      if (st) require(r.done() && r.finish().is_ok());
      break;
    }
    case 3: {
      Bytes out;
      if (fx.session->decrypt(msg, out))
        require(out.size() + kNoiseTagBytes == msg.size());
      else
        require(out.empty());
      break;
    }
    case 4: {
      NoiseConfig c;
      c.protocol = {NoisePattern::XX, NoiseHash::BLAKE2b};
      c.initiator = false;
      c.s = NoiseKeyPair::from_private(DhKey{1});
      auto hs = HandshakeState::create(c);
      require(hs.is_ok());
      Bytes payload, out;
      const Status st = hs->read_message(msg, payload);
      require(st.is_ok() != hs->failed());
      if (st) {
        require(payload.size() + kNoiseDhLen == msg.size());
        if (hs->write_message(payload, out)) require(hs->message_index() == 2);
      }
      break;
    }
  }
  return 0;
}
