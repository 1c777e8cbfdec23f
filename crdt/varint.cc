#include "crdt/varint.h"

#include <cassert>
#include <string>

namespace trellis {

void put_uvarint(Bytes& out, uint64_t value) {
  // Values of 2^63 and above need a 10th byte, which read_uvarint refuses;
  // every caller encodes lengths and codes far below that.
  assert(value < (uint64_t{1} << 63));
  while (value >= 0x80) {
    out.push_back(static_cast<uint8_t>(value | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<uint8_t>(value));
}

size_t uvarint_size(uint64_t value) {
  size_t n = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++n;
  }
  return n;
}

Result<uint64_t> read_uvarint(ByteView in, size_t* used) {
  // Fast path: most varints (codes, short lengths) are one byte.
  if (!in.empty() && in[0] < 0x80) {
    if (used) *used = 1;
    return uint64_t{in[0]};
  }
  if (in.empty()) return corrupt("varint is empty");
  uint64_t value = 0;
  for (size_t i = 0; i < kMaxVarintBytes; ++i) {
    if (i == in.size()) {
      return corrupt("varint is truncated after " + std::to_string(i) + " bytes");
    }
    const uint8_t b = in[i];
    value |= uint64_t{b & 0x7fu} << (7 * i);
    if ((b & 0x80) == 0) {
      // A last byte of zero adds nothing: a shorter encoding exists.
      if (b == 0 && i > 0) return corrupt("varint is not minimally encoded");
      if (used) *used = i + 1;
      return value;
    }
  }
  return corrupt("varint is longer than 9 bytes");
}

}  // namespace trellis
