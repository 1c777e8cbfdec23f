// Unsigned LEB128 varints as multiformats uses them
// (https://github.com/multiformats/unsigned-varint): at most 9 bytes, values
// below 2^63, minimal encoding only (no trailing zero groups).
#pragma once

#include <cstdint>

#include "crdt/bytes.h"
#include "crdt/status.h"

namespace trellis {

inline constexpr size_t kMaxVarintBytes = 9;

// Precondition: value < 2^63 (larger values need a 10th byte).
void put_uvarint(Bytes& out, uint64_t value);
size_t uvarint_size(uint64_t value);
// Reads a varint at the start of `in`; *used = bytes it takes (`used` may be
// null). Empty, truncated, over-long or non-minimal input fails with corrupt.
Result<uint64_t> read_uvarint(ByteView in, size_t* used);

}  // namespace trellis
