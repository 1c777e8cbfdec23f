// A whole sub-DAG walk, shared by the subdag and stream tests.
#pragma once

#include <doctest/doctest.h>

#include <span>
#include <vector>

#include "crdt/subdag.h"

namespace trellis::testing {

// Every block reachable from `roots` and not below `haves`, newest first, in
// items of at most `max_count` blocks, as blocks.subdag streams them.
inline std::vector<IncomingBlock> walk_all(Replica& src, std::span<const Cid> roots,
                                           std::span<const Cid> haves,
                                           size_t max_blocks = 1'000'000, size_t max_count = 7) {
  SubdagWalk walk(roots, haves, max_blocks);
  std::vector<IncomingBlock> out;
  for (bool more = true; more;) {
    size_t before = out.size();
    auto r = walk.next(src.store(), out, 1 << 20, max_count);
    REQUIRE(r.is_ok());
    CHECK(out.size() - before <= max_count);
    more = *r;
  }
  return out;
}

}  // namespace trellis::testing
