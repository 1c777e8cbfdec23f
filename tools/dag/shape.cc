#include "tools/dag/shape.h"

#include <algorithm>

#include "crdt/block.h"
#include "tools/dag/blocks.h"
#include "tools/dag/order.h"

namespace trellis::dag {

Result<DagShape> dag_shape(const Txn& txn, const Dbs& dbs, uint64_t depth, uint64_t max_buckets) {
  DagShape shape;
  if (depth == 0 || max_buckets == 0) return shape;
  const uint64_t n = std::min(depth, max_buckets);
  const uint64_t span = (depth + n - 1) / n;  // heights per bucket
  for (uint64_t from = 1; from <= depth; from += span)
    shape.buckets.push_back({.from = from, .to = std::min(depth, from + span - 1)});

  uint64_t height = 0, width = 0;  // the height being counted and its blocks so far
  auto close_height = [&] {
    if (width == 0) return;
    if (width > 1) ++shape.concurrent_heights;
    if (width > shape.max_width) {
      shape.max_width = width;
      shape.max_width_height = height;
    }
    HeightBucket& b = shape.buckets[(height - 1) / span];
    b.max_width = std::max(b.max_width, width);
  };
  TRELLIS_TRY(
      for_each_merged_by_height(txn, dbs, [&](const Cid& cid, std::optional<ByteView> bytes) {
        uint64_t h = std::clamp<uint64_t>(merged_height(txn, dbs, cid).value_or(1), 1, depth);
        if (h != height) {
          close_height();
          height = h;
          width = 0;
        }
        ++width;
        HeightBucket& b = shape.buckets[(h - 1) / span];
        ++b.blocks;
        if (!bytes) return Status::ok();  // verify reports it
        auto block = decode_block(*bytes);
        if (block && block->links.size() >= 2) {
          ++b.merges;
          ++shape.merges;
        }
        return Status::ok();
      }));
  close_height();
  return shape;
}

}  // namespace trellis::dag
