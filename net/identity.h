// Peer identity: an Ed25519 key pair, the libp2p-style peer ID derived from
// it, and the 32-byte cluster secret (the Noise pre-shared key).
//
// A peer ID is the identity multihash (code 0x00, length 36) of the
// protobuf-encoded public key {Type: Ed25519 (1), Data: 32 bytes}, i.e. the
// 38 bytes 00 24 08 01 12 20 <key>, written base58btc without a multibase
// prefix, which is why every Ed25519 peer ID starts "12D3KooW".
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "crdt/bytes.h"
#include "crdt/status.h"

namespace trellis::net {

inline constexpr size_t kPublicKeyBytes = 32;
inline constexpr size_t kSignatureBytes = 64;
inline constexpr size_t kPeerIdBytes = 38;
inline constexpr size_t kSecretBytes = 32;

using PublicKey = std::array<uint8_t, kPublicKeyBytes>;
using Signature = std::array<uint8_t, kSignatureBytes>;

class PeerId {
 public:
  PeerId() = default;  // the empty ID: is_empty(), never a real peer
  static PeerId from_public_key(const PublicKey& key);
  // From the 38 multihash bytes; anything but an Ed25519 identity multihash
  // is refused: RSA keys (sha2-256 multihash, "Qm…") and inline secp256k1 or
  // ECDSA keys fail with unsupported, malformed bytes with corrupt. parse()
  // reports malformed text as invalid_argument, unsupported keys as
  // unsupported.
  static Result<PeerId> from_bytes(ByteView bytes);
  // From "12D3KooW…" (also accepts the CIDv1 libp2p-key form "bafzaa…").
  static Result<PeerId> parse(std::string_view text);

  bool is_empty() const { return !set_; }
  const PublicKey& public_key() const { return key_; }
  Bytes bytes() const;            // the 38 multihash bytes
  std::string to_string() const;  // base58btc, "12D3KooW…"; "" when empty

  friend bool operator==(const PeerId&, const PeerId&) = default;
  friend auto operator<=>(const PeerId&, const PeerId&) = default;

 private:
  bool set_ = false;
  PublicKey key_{};
};

// Checks an Ed25519 signature made by `signer` over `message`.
bool verify(const PeerId& signer, ByteView message, ByteView signature);

class Identity {
 public:
  static Identity generate();
  // From the 32-byte Ed25519 seed (tests, vectors).
  static Identity from_seed(ByteView seed32);

  // The identity file, in IPFS Cluster's identity.json shape:
  //   {"id": "12D3KooW…", "private_key": "<base64 of the libp2p protobuf
  //    private key: 08 01 12 40 <seed ‖ public key>>"}
  // save() writes it atomically with mode 0600; load() refuses a file that
  // other users can read, a malformed one, or one whose id does not match
  // its key, saying which.
  static Result<Identity> load(const std::string& path);
  Status save(const std::string& path) const;

  const PeerId& id() const { return id_; }
  const PublicKey& public_key() const { return id_.public_key(); }
  Signature sign(ByteView message) const;

 private:
  PeerId id_;
  std::array<uint8_t, 64> secret_{};  // libsodium layout: seed ‖ public key
};

// The cluster secret: the PSK every member's Noise handshake mixes in.
struct ClusterSecret {
  std::array<uint8_t, kSecretBytes> bytes{};

  static ClusterSecret generate();
  // Exactly 64 hex characters (either case); anything else is refused with a
  // message saying what was expected.
  static Result<ClusterSecret> parse_hex(std::string_view hex);
  std::string to_hex() const;  // lower case
  friend bool operator==(const ClusterSecret&, const ClusterSecret&) = default;
};

}  // namespace trellis::net
