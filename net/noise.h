// A generic Noise Protocol Framework implementation (revision 34,
// https://noiseprotocol.org/noise.html), sans-I/O, for the handshake patterns
// NN, XX and XXpsk3 with DH 25519, cipher ChaChaPoly and hash SHA256 or
// BLAKE2b. All primitives come from libsodium; HMAC and HKDF are built from
// the hash exactly as §4.3 of the spec defines them.
//
// Contracts shared by every call here:
//   - Input from the network never crashes or asserts: anything malformed
//     (short, over-long, failing authentication, a low-order DH key) is a
//     failed Status, code corrupt, or too_large for size bounds.
//   - A Noise message is at most kNoiseMaxMessage (65535) bytes on the wire.
//   - After a failed read or write a HandshakeState is unusable (the spec
//     requires abandoning the handshake); every later call fails.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "crdt/bytes.h"
#include "crdt/status.h"

namespace trellis::net {

inline constexpr size_t kNoiseMaxMessage = 65535;
inline constexpr size_t kNoiseTag = 16;         // ChaChaPoly authentication tag
inline constexpr size_t kNoiseDhLen = 32;       // X25519 key and output size
inline constexpr size_t kNoiseKeyLen = 32;      // cipher key size
inline constexpr size_t kNoiseMaxHashLen = 64;  // BLAKE2b's HASHLEN

using DhKey = std::array<uint8_t, kNoiseDhLen>;

enum class NoisePattern { NN, XX, XXpsk3 };
enum class NoiseHash { SHA256, BLAKE2b };

// "Noise_<pattern>_25519_ChaChaPoly_<hash>".
struct NoiseProtocol {
  NoisePattern pattern = NoisePattern::XX;
  NoiseHash hash = NoiseHash::SHA256;

  // Any other pattern, DH, cipher or hash fails with unsupported.
  static Result<NoiseProtocol> parse(std::string_view name);
  std::string name() const;
  size_t hash_len() const { return hash == NoiseHash::SHA256 ? 32 : 64; }
};

// An X25519 key pair. The private key is wiped on destruction.
struct NoiseKeyPair {
  DhKey priv{};
  DhKey pub{};

  static NoiseKeyPair generate();  // from libsodium's CSPRNG
  static NoiseKeyPair from_private(const DhKey& priv);

  NoiseKeyPair() = default;
  NoiseKeyPair(const NoiseKeyPair&) = default;
  NoiseKeyPair& operator=(const NoiseKeyPair&) = default;
  NoiseKeyPair(NoiseKeyPair&&) = default;
  NoiseKeyPair& operator=(NoiseKeyPair&&) = default;
  ~NoiseKeyPair();
};

// CipherState (§5.1): a key (or none) and a 64-bit nonce. The AEAD is IETF
// ChaCha20-Poly1305 with nonce = 4 zero bytes ‖ little-endian n. Without a
// key, encryption and decryption copy the bytes through unchanged, as the
// spec says. Nonce 2^64-1 is reserved: reaching it fails the call. The key
// is wiped on destruction.
class CipherState {
 public:
  CipherState() = default;
  CipherState(const CipherState&) = default;
  CipherState& operator=(const CipherState&) = default;
  CipherState(CipherState&&) = default;
  CipherState& operator=(CipherState&&) = default;
  ~CipherState();

  void initialize_key(const uint8_t* key32);  // also resets the nonce to 0
  bool has_key() const { return has_key_; }
  uint64_t nonce() const { return n_; }
  void set_nonce(uint64_t n) { n_ = n; }
  // Bytes an encryption adds: the tag when keyed, else nothing.
  size_t overhead() const { return has_key_ ? kNoiseTag : 0; }

  // Writes plaintext.size() + overhead() bytes at `out`, which must not
  // overlap `plaintext` except by being equal to plaintext.data().
  Status encrypt_with_ad(ByteView ad, ByteView plaintext, uint8_t* out);
  // Writes ciphertext.size() - overhead() bytes at `out` (same overlap
  // rule). Fails with corrupt when the input is shorter than a tag, the tag
  // does not verify (the nonce then does not advance) or the nonce is spent.
  Status decrypt_with_ad(ByteView ad, ByteView ciphertext, uint8_t* out);
  // REKEY (§4.2): k = the first 32 bytes of ENCRYPT(k, 2^64-1, "", zeros).
  void rekey();

 private:
  std::array<uint8_t, kNoiseKeyLen> k_{};
  uint64_t n_ = 0;
  bool has_key_ = false;
};

// The configuration of one side of a handshake.
struct NoiseConfig {
  NoiseProtocol protocol;
  bool initiator = true;
  Bytes prologue;
  // Our static key: required by XX patterns, refused by NN.
  std::optional<NoiseKeyPair> s;
  // A fixed ephemeral key (test vectors only); generated when absent.
  std::optional<NoiseKeyPair> e;
  // The pre-shared key: required by psk patterns, refused otherwise.
  std::optional<std::array<uint8_t, 32>> psk;
};

// The two transport ciphers Split() yields (§5.2): c1 carries initiator →
// responder traffic, c2 responder → initiator.
struct NoiseSplit {
  CipherState c1;
  CipherState c2;
};

// HandshakeState (§5.3) with its SymmetricState. Copyable for tests; never
// fork a live handshake in production (both copies would reuse nonces).
class HandshakeState {
 public:
  HandshakeState() = default;  // unusable until assigned from create()
  HandshakeState(const HandshakeState&) = default;
  HandshakeState& operator=(const HandshakeState&) = default;
  HandshakeState(HandshakeState&&) = default;
  HandshakeState& operator=(HandshakeState&&) = default;
  ~HandshakeState();

  // Initialize(): checks that the keys the pattern needs are present and no
  // others; fails with invalid_argument otherwise.
  static Result<HandshakeState> create(const NoiseConfig& config);

  bool is_initiator() const { return initiator_; }
  // True while the handshake is live and the next message is ours to write.
  bool my_turn() const;
  // All handshake messages were written and read successfully.
  bool done() const;
  bool failed() const { return failed_; }
  // 0-based index of the next handshake message.
  size_t message_index() const { return index_; }

  // Writes the next message with `payload` and APPENDS it to `out`. Fails
  // (invalid_argument) when it is not our turn, and with too_large when the
  // message would exceed kNoiseMaxMessage.
  Status write_message(ByteView payload, Bytes& out);
  // Reads the next message, REPLACING `payload`'s contents with its payload.
  // Fails when it is not our turn to read, on malformed or oversize input.
  Status read_message(ByteView message, Bytes& payload);

  // h, the handshake hash (hash_len() bytes); final once done().
  ByteView handshake_hash() const { return {h_.data(), hash_len_}; }
  // The remote static key, once a message carrying it has been read.
  const std::optional<DhKey>& remote_static() const { return rs_; }
  // Our static public key (XX patterns).
  const std::optional<NoiseKeyPair>& local_static() const { return s_; }

  // Split() (§5.2); only after done(), else invalid_argument.
  Result<NoiseSplit> split() const;

 private:
  Status fail(Status s);
  Status check_turn(bool writing) const;
  void hash_into(uint8_t* out, ByteView a, ByteView b) const;
  void mix_hash(ByteView data);
  // HKDF(ck, ikm) into out1, out2 and, unless null, out3 (HASHLEN each).
  void hkdf(ByteView ikm, uint8_t* out1, uint8_t* out2, uint8_t* out3) const;
  void mix_key(ByteView ikm);
  void mix_key_and_hash(ByteView ikm);
  Status encrypt_and_hash(ByteView plaintext, uint8_t* out, size_t out_len);
  Status mix_dh(const std::optional<NoiseKeyPair>& local, const std::optional<DhKey>& remote);
  Status run_dh_token(int token);

  NoiseHash hash_ = NoiseHash::SHA256;
  size_t hash_len_ = 32;
  int pattern_ = -1;  // index into the pattern table; -1 = not created
  bool initiator_ = true;
  bool failed_ = false;
  size_t index_ = 0;
  std::array<uint8_t, kNoiseMaxHashLen> h_{};
  std::array<uint8_t, kNoiseMaxHashLen> ck_{};
  CipherState cipher_;
  std::optional<NoiseKeyPair> s_, e_, fixed_e_;
  std::optional<DhKey> rs_, re_;
  std::optional<std::array<uint8_t, 32>> psk_;
};

}  // namespace trellis::net
