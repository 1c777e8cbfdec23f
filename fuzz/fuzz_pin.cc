// Fuzz target: the pin decoder and the removal-marker decoder (CRDT values
// any peer may write) must reject or accept any input without crashing, and
// what they accept must re-encode to bytes that decode to the same value.
#include <cstdlib>

#include "pinning/pin.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  trellis::ByteView in(data, size);
  auto pin = trellis::pinning::decode_pin(in);
  if (pin.is_ok()) {
    auto back = trellis::pinning::decode_pin(trellis::pinning::encode_pin(*pin));
    if (!back.is_ok() || !(*back == *pin)) std::abort();
  }
  if (auto ts = trellis::pinning::decode_removed(in)) {
    if (trellis::pinning::decode_removed(trellis::pinning::encode_removed(*ts)) != ts) std::abort();
  }
  return 0;
}
