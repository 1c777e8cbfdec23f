// Multihash: varint(code) ‖ varint(digest length) ‖ digest.
// Spec: https://github.com/multiformats/multihash.
#pragma once

#include <cstdint>

#include "crdt/bytes.h"
#include "crdt/status.h"

namespace trellis {

inline constexpr uint64_t kHashIdentity = 0x00;
inline constexpr uint64_t kHashSha256 = 0x12;
// Identity digests longer than this are refused (they embed data inline).
inline constexpr size_t kMaxIdentityDigest = 64;

struct Multihash {
  uint64_t code = 0;
  Bytes digest;

  static Multihash sha256(ByteView data);
  // Precondition: data.size() <= kMaxIdentityDigest.
  static Multihash identity(ByteView data);
  // Exactly one multihash filling `bytes`. Any hash code decodes, with a
  // digest of at most 64 bytes; sha2-256 digests must be exactly 32 bytes.
  // Malformed input fails with corrupt, over-long digests with too_large.
  static Result<Multihash> decode(ByteView bytes);
  // A multihash at the start of `bytes`; *used = bytes it takes.
  static Result<Multihash> read_prefix(ByteView bytes, size_t* used);

  Bytes encode() const;
  void append_to(Bytes& out) const;

  friend bool operator==(const Multihash&, const Multihash&) = default;
};

}  // namespace trellis
