#include "tools/dag/counts.h"

#include "tools/dag/live.h"

namespace trellis::dag {

Result<StoreCounts> count_store(const Txn& txn, const Dbs& dbs) {
  auto info = read_info(txn, dbs);
  if (!info) return info.status();
  StoreCounts c{std::move(*info)};
  LiveKeys live(txn, dbs);
  for (; live.valid(); live.next()) ++c.keys;
  TRELLIS_TRY(live.status());
  return c;
}

}  // namespace trellis::dag
