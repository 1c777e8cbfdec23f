// SHA-256 of a buffer, through OpenSSL's libcrypto, which uses the CPU's SHA
// extensions where present: about 6× libsodium's portable code on 1 KiB
// blocks, and every fetched block is hashed (docs/BENCHMARKS.md).
#pragma once

#include <cstdint>

#include "crdt/bytes.h"

namespace trellis {

inline constexpr size_t kSha256Bytes = 32;

void sha256(ByteView data, uint8_t out[kSha256Bytes]);

}  // namespace trellis
