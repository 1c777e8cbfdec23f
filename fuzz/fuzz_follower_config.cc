// Fuzz target: the follower configuration a follower fetches from a URL or
// file (trellis-follow NAME init) must be rejected or accepted without
// crashing; an accepted one must survive to_json → parse unchanged.
#include <cstdlib>

#include "daemon/follower_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using trellis::FollowerConfig;
  auto c = FollowerConfig::parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!c.is_ok()) return 0;
  auto back = FollowerConfig::parse(c->to_json());
  if (!back.is_ok() || back->to_json() != c->to_json()) std::abort();
  return 0;
}
