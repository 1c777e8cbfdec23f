// Fuzz target: the HTTP APIs' input parsers (pinning/api_input.h) must
// accept or reject any request target, query and Pin body without crashing.
// A target that decodes has a path with no '?' left in the raw part it came
// from, and a query parameter list that the Pinning Service API's query
// parser then takes or refuses.
#include <cstdlib>

#include "pinning/api_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace trellis::pinning;
  std::string text(reinterpret_cast<const char*>(data), size);
  (void)pin_of_body(text);
  auto target = parse_target(text);
  if (!target) return 0;
  if (target->path.size() > text.size()) std::abort();  // decoding never grows
  auto q = parse_pin_query(target->query);
  if (q.is_ok() && (q->limit < 1 || q->limit > kMaxListLimit)) std::abort();
  return 0;
}
