// The Trellis secure channel: Noise_XXpsk3_25519_ChaChaPoly_SHA256 with the
// cluster secret as the PSK, binding each side's Noise static key to its
// Ed25519 peer identity. Sans-I/O: the caller moves the bytes (and frames
// them; messages here carry no length prefix). docs/net.md, "Secure
// channel", is the wire contract.
//
// Handshake (→ initiator to responder):
//   1 → e                      payload: empty
//   2 ← e, ee, s, es           payload: responder's HandshakePayload
//   3 → s, se, psk             payload: initiator's HandshakePayload
// A wrong cluster secret makes message 3 fail to decrypt at the responder;
// the initiator, having nothing left to read, learns it when the responder
// closes the connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "crdt/bytes.h"
#include "crdt/status.h"
#include "net/identity.h"
#include "net/noise.h"

namespace trellis::net {

inline constexpr size_t kMaxNoiseMessage = 65535;  // wire bytes of one Noise message
inline constexpr size_t kNoiseTagBytes = 16;
inline constexpr size_t kMaxPlaintext = kMaxNoiseMessage - kNoiseTagBytes;

inline constexpr std::string_view kSecureProtocolName = "Noise_XXpsk3_25519_ChaChaPoly_SHA256";
inline constexpr std::string_view kSecurePrologue = "trellis/noise/1";
// Prefixed to the Noise static public key before signing, so the signature
// cannot be replayed as a signature over anything else.
inline constexpr std::string_view kStaticKeySignatureDomain = "trellis-noise-static-key:";
inline constexpr uint8_t kSecureVersion = 1;

// Each side's handshake payload, a fixed 97-byte layout:
//   version (u8, = 1) ‖ Ed25519 public key (32) ‖ Ed25519 signature (64)
// over kStaticKeySignatureDomain ‖ the sender's Noise static public key.
struct HandshakePayload {
  static constexpr size_t kBytes = 1 + kPublicKeyBytes + kSignatureBytes;

  uint8_t version = kSecureVersion;
  PublicKey identity_key{};
  Signature signature{};

  // `self` vouches for `noise_static`.
  static HandshakePayload make(const Identity& self, const DhKey& noise_static);
  // A version other than 1 fails with unsupported; any other length or
  // malformation with corrupt.
  static Result<HandshakePayload> decode(ByteView bytes);
  Bytes encode() const;
  // The peer ID of the signer, if the signature covers `noise_static`;
  // otherwise corrupt.
  Result<PeerId> verify(const DhKey& noise_static) const;
};

// The bytes a peer signs for its Noise static public key.
Bytes static_key_signing_message(const DhKey& noise_static);

// A finished channel: one cipher per direction. Move-only, so no copy can
// ever reuse a nonce.
class SecureSession {
 public:
  SecureSession(SecureSession&&) noexcept = default;
  SecureSession& operator=(SecureSession&&) noexcept = default;
  SecureSession(const SecureSession&) = delete;
  SecureSession& operator=(const SecureSession&) = delete;

  const PeerId& remote() const { return remote_; }

  // Encrypts plaintext and APPENDS the ciphertext (plaintext.size() + 16
  // bytes) to out; plaintext must not point into out. Preconditions,
  // enforced by abort(): plaintext.size() <= kMaxPlaintext, and fewer than
  // 2^64-1 messages sent (unreachable in practice).
  void encrypt(ByteView plaintext, Bytes& out);
  // Decrypts one transport message, REPLACING out's contents with the
  // plaintext (ciphertext may start at out.data(), for in-place use, but must
  // not otherwise overlap out). Fails with corrupt — out then empty — on a
  // bad tag, input shorter than a tag or longer than kMaxNoiseMessage, or
  // nonce exhaustion. After a failure the caller should drop the connection.
  Status decrypt(ByteView ciphertext, Bytes& out);

 private:
  friend class SecureHandshake;
  SecureSession() = default;

  CipherState send_;
  CipherState recv_;
  PeerId remote_;
};

class SecureHandshake {
 public:
  SecureHandshake(SecureHandshake&&) noexcept = default;
  SecureHandshake& operator=(SecureHandshake&&) noexcept = default;
  SecureHandshake(const SecureHandshake&) = delete;
  SecureHandshake& operator=(const SecureHandshake&) = delete;

  // The dialer. With a non-empty `expected`, a responder with another ID
  // fails message 2 with Code::denied, "expected peer X, got Y".
  static SecureHandshake initiator(const Identity& self, const ClusterSecret& secret,
                                   PeerId expected = {});
  static SecureHandshake responder(const Identity& self, const ClusterSecret& secret);

  bool wants_write() const;  // our turn to write
  // The next handshake message (no length prefix). Fails with
  // invalid_argument when it is not our turn.
  Result<Bytes> write_message();
  // Bad input => failed Status (see docs/net.md for the messages); the
  // object is then unusable and every later call fails.
  Status read_message(ByteView message);
  bool done() const;
  bool failed() const { return failed_; }
  // The verified remote peer; empty until its payload has been read.
  const PeerId& remote() const { return remote_; }
  // Only after done(), and only once.
  Result<SecureSession> finish();

 private:
  SecureHandshake() = default;
  static SecureHandshake make(const Identity& self, const ClusterSecret& secret, bool initiator);
  Status fail(Status s);

  HandshakeState noise_;
  Bytes payload_;  // our encoded HandshakePayload
  PeerId expected_;
  PeerId remote_;
  bool initiator_ = true;
  bool failed_ = false;
  bool finished_ = false;
};

}  // namespace trellis::net
