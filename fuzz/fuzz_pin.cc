// Fuzz target: the pin decoder (CRDT values any peer may write) must reject
// or accept any input without crashing, and an accepted pin must re-encode
// to bytes that decode to the same pin.
#include <cstdlib>

#include "pinning/pin.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto pin = trellis::pinning::decode_pin(trellis::ByteView(data, size));
  if (pin.is_ok()) {
    auto back = trellis::pinning::decode_pin(trellis::pinning::encode_pin(*pin));
    if (!back.is_ok() || !(*back == *pin)) std::abort();
  }
  return 0;
}
