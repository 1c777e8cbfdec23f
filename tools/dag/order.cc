#include "tools/dag/order.h"

#include "tools/dag/scratch.h"

namespace trellis::dag {

Status for_each_merged_by_height(
    const Txn& txn, const Dbs& dbs,
    const std::function<Status(const Cid&, std::optional<ByteView>)>& fn) {
  auto scratch = ScratchDb::create();
  if (!scratch) return scratch.status();
  ScratchDb& index = **scratch;
  {
    Cursor c(txn, dbs.merged);
    Bytes key;
    for (bool ok = c.first(); ok; ok = c.next()) {
      key.clear();
      put_u64be(key, get_u64be(c.value()));
      key.insert(key.end(), c.key().begin(), c.key().end());
      auto added = index.insert(key);
      if (!added) return added.status();
    }
  }
  Status result;
  TRELLIS_TRY(index.for_each([&](ByteView key) {
    auto cid = Cid::from_bytes(key.subspan(8));
    if (!cid) {
      result = corrupt("merged holds a malformed CID " + to_hex(key.subspan(8)));
      return false;
    }
    std::optional<ByteView> bytes = txn.get(dbs.blocks, cid->view());
    result = fn(*cid, bytes);
    return result.is_ok();
  }));
  return result;
}

}  // namespace trellis::dag
