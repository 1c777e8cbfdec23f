// Fuzz target: the block decoder must reject or accept any input without
// crashing, and whatever it accepts must re-encode to the same bytes.
#include <cstdlib>

#include "crdt/block.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  trellis::ByteView in(data, size);
  auto block = trellis::decode_block(in);
  if (block.is_ok()) {
    trellis::Bytes again = trellis::encode_block(*block);
    // msgpack has several encodings of one value; a decoded block must at
    // least decode to itself after re-encoding.
    auto back = trellis::decode_block(again);
    if (!back.is_ok() || !(*back == *block)) std::abort();
  }
  return 0;
}
