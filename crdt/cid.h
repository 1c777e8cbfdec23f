// Content identifiers (CIDv0 and CIDv1) over multihashes.
//
// Spec: https://github.com/multiformats/cid. A CIDv0 is a bare sha2-256
// multihash (implicitly dag-pb), written in base58btc with no multibase
// prefix ("Qm..."). A CIDv1 is varint(1) ‖ varint(codec) ‖ multihash, written
// with a multibase prefix; Trellis prints base32 lower ("b...") and also
// parses base58btc ("z...").
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "crdt/bytes.h"
#include "crdt/multihash.h"
#include "crdt/status.h"

namespace trellis {

// Multicodec codes used by Trellis (multicodec table).
inline constexpr uint64_t kCodecRaw = 0x55;
inline constexpr uint64_t kCodecDagPb = 0x70;
inline constexpr uint64_t kCodecDagCbor = 0x71;
inline constexpr uint64_t kCodecMessagePack = 0x0201;

// Largest binary CID accepted by the parsers.
inline constexpr size_t kMaxCidBytes = 128;

class Cid {
 public:
  Cid() = default;  // an empty, invalid CID; only for containers

  // Text form: "Qm..." (v0, exactly 46 characters), "b..." (v1 base32
  // lower), "B..." (v1 base32 upper), "z..." (v1 base58btc). Malformed text
  // fails with invalid_argument, reserved versions 2 and 3 with unsupported.
  static Result<Cid> parse(std::string_view text);
  // Binary form. A 34-byte buffer starting 0x12 0x20 is a v0 CID; anything
  // else must be a whole v1 CID with nothing after it. Malformed bytes fail
  // with corrupt, more than kMaxCidBytes with too_large.
  static Result<Cid> from_bytes(ByteView bytes);
  // A CID at the start of `bytes` (as in CAR sections); sets *used to the
  // number of bytes it takes.
  static Result<Cid> read_prefix(ByteView bytes, size_t* used);

  // CIDv1 of `codec` over the sha2-256 of `data`.
  static Cid sha256(uint64_t codec, ByteView data);
  // CIDv1 of `codec` over an existing multihash. Precondition: `hash` is
  // well formed (from Multihash::sha256/identity/decode).
  static Cid v1(uint64_t codec, Multihash hash);
  // The CID of a Trellis block: CIDv1, messagepack codec, sha2-256.
  static Cid of_block(ByteView block) { return sha256(kCodecMessagePack, block); }

  bool empty() const { return bytes_.empty(); }
  int version() const { return version_; }
  uint64_t codec() const { return codec_; }
  const Multihash& hash() const { return hash_; }
  // The binary form (what LMDB keys and blocks store).
  const Bytes& bytes() const { return bytes_; }
  ByteView view() const { return bytes_; }

  // v0 → "Qm...", v1 → "b..." base32 lower; "" for an empty Cid.
  std::string to_string() const;
  void append_to(std::string& out) const;  // to_string(), appended
  // v1 in base58btc with its "z" prefix (v0 prints as v0).
  std::string to_base58() const;

  // The same multihash as CIDv1 (codec kept; v0 becomes dag-pb).
  Cid to_v1() const;
  // CIDv0 form; fails unless the codec is dag-pb over sha2-256.
  Result<Cid> to_v0() const;

  friend bool operator==(const Cid& a, const Cid& b) { return a.bytes_ == b.bytes_; }
  friend std::strong_ordering operator<=>(const Cid& a, const Cid& b) {
    return a.bytes_ <=> b.bytes_;
  }

 private:
  int version_ = 0;
  uint64_t codec_ = 0;
  Multihash hash_;
  Bytes bytes_;
};

// For unordered containers. Not seeded: like std::hash it offers no defence
// against inputs chosen to collide.
struct CidHash {
  size_t operator()(const Cid& c) const;
};

}  // namespace trellis
