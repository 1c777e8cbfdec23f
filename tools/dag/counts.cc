#include "tools/dag/counts.h"

#include "tools/dag/blocks.h"
#include "tools/dag/live.h"

namespace trellis::dag {

Result<StoreCounts> count_store(const Txn& txn, const Dbs& dbs) {
  StoreCounts c;
  c.heads = txn.count(dbs.heads);
  c.max_height = max_head_height(txn, dbs);
  c.blocks = txn.count(dbs.blocks);
  c.merged = txn.count(dbs.merged);
  c.pending = txn.count(dbs.pending);
  c.ready = txn.count(dbs.ready);
  c.staged = txn.count(dbs.staged);
  c.wants = txn.count(dbs.wants);
  c.elements = txn.count(dbs.elems);
  c.tombstones = txn.count(dbs.tombs);
  LiveKeys live(txn, dbs);
  for (; live.valid(); live.next()) ++c.keys;
  TRELLIS_TRY(live.status());
  return c;
}

}  // namespace trellis::dag
