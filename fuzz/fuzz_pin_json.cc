// Fuzz target: IPFS Cluster's pin JSON (state import lines, API input) and
// the RFC 3339 / duration parsers must reject or accept any input without
// crashing; an accepted pin must survive pin_to_json → pin_from_json.
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "pinning/pin_json.h"
#include "pinning/rfc3339.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace trellis::pinning;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)parse_rfc3339(text);
  (void)parse_duration(text);
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return 0;
  auto pin = pin_from_json(j);
  if (pin.is_ok()) {
    auto back = pin_from_json(pin_to_json(*pin));
    if (!back.is_ok() || !(*back == *pin)) std::abort();
  }
  return 0;
}
