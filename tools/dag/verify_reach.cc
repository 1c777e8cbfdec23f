// trellis-dag verify: every merged block must be reachable from a head
// (otherwise a replica syncing from our heads never learns of it; see
// go-ds-crdt issue #279). Breadth-first from the heads with the visited set
// in a scratch LMDB database.
#include "tools/dag/blocks.h"
#include "tools/dag/scratch.h"
#include "tools/dag/text.h"
#include "tools/dag/verify.h"

namespace trellis::dag {

Status check_reachability(const Txn& txn, const Dbs& d, VerifyReport& report, VerifyStats& stats) {
  auto scratch = ScratchDb::create();
  if (!scratch) return scratch.status();
  ScratchDb& seen = **scratch;
  auto enqueue = [&](ByteView cid) -> Status {
    auto fresh = seen.insert(cid);
    if (!fresh) return fresh.status();
    if (*fresh) TRELLIS_TRY(seen.push(cid));
    return Status::ok();
  };
  {
    Cursor h(txn, d.heads);
    for (bool ok = h.first(); ok; ok = h.next()) TRELLIS_TRY(enqueue(h.key()));
  }
  uint64_t holes = 0;  // blocks reached that are missing or do not decode
  for (;;) {
    auto item = seen.pop();
    if (!item) return item.status();
    if (!*item) break;
    auto bytes = txn.get(d.blocks, **item);
    auto block = bytes ? decode_block(*bytes) : Result<Block>(corrupt("not stored"));
    if (!block) {
      ++holes;  // reported by the link and decode checks
      continue;
    }
    for (const auto& l : block->links) TRELLIS_TRY(enqueue(l.view()));
  }
  Cursor m(txn, d.merged);
  for (bool ok = m.first(); ok; ok = m.next()) {
    if (seen.contains(m.key())) {
      ++stats.reachable;
      continue;
    }
    auto cid = Cid::from_bytes(m.key());
    report.problem(
        checks::kReach, cid ? cid->to_string() : to_hex(m.key()),
        holes ? "merged block is not reachable from any head through stored "
                "blocks (" +
                    count_of(holes, "missing or damaged block", "missing or damaged blocks") +
                    " in the way)"
              : std::string("merged block is not reachable from any head"));
  }
  return Status::ok();
}

}  // namespace trellis::dag
