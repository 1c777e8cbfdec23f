#include "net/secure.h"

#include <cstdlib>
#include <cstring>

namespace trellis::net {
namespace {

NoiseProtocol secure_protocol() {
  return {NoisePattern::XXpsk3, NoiseHash::SHA256};
}

}  // namespace

// --- HandshakePayload ------------------------------------------------------

Bytes static_key_signing_message(const DhKey& noise_static) {
  const ByteView domain = as_bytes(kStaticKeySignatureDomain);
  Bytes msg(domain.begin(), domain.end());
  msg.insert(msg.end(), noise_static.begin(), noise_static.end());
  return msg;
}

HandshakePayload HandshakePayload::make(const Identity& self, const DhKey& noise_static) {
  HandshakePayload p;
  p.identity_key = self.public_key();
  p.signature = self.sign(static_key_signing_message(noise_static));
  return p;
}

Bytes HandshakePayload::encode() const {
  Bytes out;
  out.reserve(kBytes);
  out.push_back(version);
  out.insert(out.end(), identity_key.begin(), identity_key.end());
  out.insert(out.end(), signature.begin(), signature.end());
  return out;
}

Result<HandshakePayload> HandshakePayload::decode(ByteView bytes) {
  if (bytes.empty()) return corrupt("handshake payload is empty");
  // The version comes first so a newer peer gets a clear answer even if
  // its payload has grown.
  if (bytes[0] != kSecureVersion) {
    return Status(Code::unsupported, "peer speaks secure-channel version " +
                                         std::to_string(bytes[0]) + "; this build speaks " +
                                         std::to_string(kSecureVersion));
  }
  if (bytes.size() != kBytes) {
    return corrupt("handshake payload is " + std::to_string(bytes.size()) + " bytes, expected " +
                   std::to_string(kBytes));
  }
  HandshakePayload p;
  p.version = bytes[0];
  std::memcpy(p.identity_key.data(), bytes.data() + 1, kPublicKeyBytes);
  std::memcpy(p.signature.data(), bytes.data() + 1 + kPublicKeyBytes, kSignatureBytes);
  return p;
}

Result<PeerId> HandshakePayload::verify(const DhKey& noise_static) const {
  const PeerId id = PeerId::from_public_key(identity_key);
  if (!net::verify(id, static_key_signing_message(noise_static), signature)) {
    return corrupt("peer " + id.to_string() +
                   " did not sign its Noise static key (bad identity signature)");
  }
  return id;
}

// --- SecureSession ---------------------------------------------------------

void SecureSession::encrypt(ByteView plaintext, Bytes& out) {
  // A caller bug, not remote input: an oversize message would be refused by
  // the peer, so stop here rather than send it.
  if (plaintext.size() > kMaxPlaintext) std::abort();
  const size_t at = out.size();
  out.resize(at + plaintext.size() + kNoiseTagBytes);
  // Fails only on nonce exhaustion: 2^64-1 messages.
  if (!send_.encrypt_with_ad({}, plaintext, out.data() + at)) std::abort();
}

Status SecureSession::decrypt(ByteView ciphertext, Bytes& out) {
  if (ciphertext.size() > kMaxNoiseMessage) {
    out.clear();
    return corrupt("transport message of " + std::to_string(ciphertext.size()) +
                   " bytes exceeds the limit of " + std::to_string(kMaxNoiseMessage));
  }
  if (ciphertext.size() < kNoiseTagBytes) {
    out.clear();
    return corrupt("transport message of " + std::to_string(ciphertext.size()) +
                   " bytes is shorter than its 16-byte tag");
  }
  // Shrinking never reallocates, so in-place ciphertext (at out.data())
  // stays valid.
  out.resize(ciphertext.size() - kNoiseTagBytes);
  if (Status st = recv_.decrypt_with_ad({}, ciphertext, out.data()); !st) {
    out.clear();
    return corrupt("transport message from " + remote_.to_string() +
                   " failed to decrypt: " + st.message());
  }
  return Status::ok();
}

// --- SecureHandshake -------------------------------------------------------

SecureHandshake SecureHandshake::make(const Identity& self, const ClusterSecret& secret,
                                      bool initiator) {
  NoiseConfig config;
  config.protocol = secure_protocol();
  config.initiator = initiator;
  const ByteView prologue = as_bytes(kSecurePrologue);
  config.prologue.assign(prologue.begin(), prologue.end());
  // A fresh static key per handshake: its only job is to be signed by the
  // long-term Ed25519 identity, as in libp2p's Noise handshake.
  config.s = NoiseKeyPair::generate();
  config.psk = secret.bytes;

  SecureHandshake h;
  h.initiator_ = initiator;
  h.payload_ = HandshakePayload::make(self, config.s->pub).encode();
  auto noise = HandshakeState::create(config);
  // The configuration is fixed and complete, so create() cannot fail.
  if (!noise) std::abort();
  h.noise_ = std::move(*noise);
  return h;
}

SecureHandshake SecureHandshake::initiator(const Identity& self, const ClusterSecret& secret,
                                           PeerId expected) {
  SecureHandshake h = make(self, secret, true);
  h.expected_ = expected;
  return h;
}

SecureHandshake SecureHandshake::responder(const Identity& self, const ClusterSecret& secret) {
  return make(self, secret, false);
}

bool SecureHandshake::wants_write() const {
  return !failed_ && noise_.my_turn();
}

bool SecureHandshake::done() const {
  return !failed_ && noise_.done();
}

Status SecureHandshake::fail(Status s) {
  failed_ = true;
  return s;
}

Result<Bytes> SecureHandshake::write_message() {
  if (failed_) return invalid("secure handshake already failed");
  // Message 1 carries nothing: nothing in it is authenticated yet.
  const ByteView payload = noise_.message_index() == 0 ? ByteView{} : ByteView(payload_);
  Bytes out;
  out.reserve(2 * kNoiseDhLen + 2 * kNoiseTagBytes + payload.size());
  if (Status st = noise_.write_message(payload, out); !st) {
    return fail(Status(st.code(), "handshake failed: " + st.message()));
  }
  return out;
}

Status SecureHandshake::read_message(ByteView message) {
  if (failed_) return invalid("secure handshake already failed");
  const size_t index = noise_.message_index();
  Bytes payload;
  if (Status st = noise_.read_message(message, payload); !st) {
    if (index == 2 && st.code() == Code::corrupt) {
      // The PSK enters in message 3, so a wrong secret surfaces exactly here
      // and looks just like a damaged message.
      return fail(corrupt("handshake failed: wrong cluster secret or corrupted message (" +
                          st.message() + ")"));
    }
    return fail(Status(st.code(), "handshake failed: " + st.message()));
  }
  if (index == 0) {
    if (!payload.empty()) {
      return fail(corrupt("handshake failed: message 1 carries an unexpected " +
                          std::to_string(payload.size()) + "-byte payload"));
    }
    return Status::ok();
  }
  auto decoded = HandshakePayload::decode(payload);
  if (!decoded)
    return fail(Status(decoded.status().code(), "handshake failed: " + decoded.status().message()));
  // Messages 2 and 3 both carry an s token before the payload, so the
  // remote static key is known here.
  const auto& rs = noise_.remote_static();
  if (!rs) return fail(corrupt("handshake failed: no remote static key"));
  auto peer = decoded->verify(*rs);
  if (!peer)
    return fail(Status(peer.status().code(), "handshake failed: " + peer.status().message()));
  if (initiator_ && !expected_.is_empty() && *peer != expected_) {
    return fail(Status(Code::denied, "handshake failed: expected peer " + expected_.to_string() +
                                         ", got " + peer->to_string()));
  }
  remote_ = *peer;
  return Status::ok();
}

Result<SecureSession> SecureHandshake::finish() {
  if (!done()) return invalid("secure handshake is not complete");
  if (finished_) return invalid("secure handshake was already finished");
  auto split = noise_.split();
  if (!split) return split.status();
  finished_ = true;
  SecureSession s;
  s.remote_ = remote_;
  // Split(): c1 carries initiator → responder traffic.
  s.send_ = initiator_ ? split->c1 : split->c2;
  s.recv_ = initiator_ ? split->c2 : split->c1;
  return s;
}

}  // namespace trellis::net
