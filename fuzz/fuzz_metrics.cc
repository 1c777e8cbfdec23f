// Fuzz target: the metrics decoder (pubsub messages from any trusted peer)
// must reject or accept any input without crashing, and accepted metrics
// must re-encode to bytes that decode to the same metrics.
#include <cstdlib>

#include "pinning/monitor.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto metrics = trellis::pinning::decode_metrics(trellis::ByteView(data, size));
  if (metrics.is_ok()) {
    auto back = trellis::pinning::decode_metrics(trellis::pinning::encode_metrics(*metrics));
    if (!back.is_ok() || *back != *metrics) std::abort();
  }
  return 0;
}
