#include "tools/dag/live.h"

#include <algorithm>

#include "crdt/replica.h"

namespace trellis::dag {

LiveKeys::LiveKeys(const Txn& txn, const Dbs& dbs, std::string_view prefix)
    : cursor_(txn, dbs.elems), prefix_(prefix) {
  at_entry_ = cursor_.seek(as_bytes(prefix));
  load();
}

void LiveKeys::next() {
  load();
}

void LiveKeys::load() {
  valid_ = false;
  if (!at_entry_ || !status_.is_ok()) return;
  std::string_view key;
  ByteView id;
  if (!split_element_key(cursor_.key(), &key, &id) || cursor_.value().size() < 8) {
    status_ = corrupt("elems holds a malformed entry (key " + to_hex(cursor_.key()) + ")");
    return;
  }
  if (!key.starts_with(prefix_)) {
    at_entry_ = false;
    return;
  }
  key_ = key;
  priority_ = get_u64be(cursor_.value());
  value_ = cursor_.value().subspan(8);
  candidates_ = 1;
  valid_ = true;
  while ((at_entry_ = cursor_.next())) {
    std::string_view k;
    if (!split_element_key(cursor_.key(), &k, &id) || cursor_.value().size() < 8) break;
    if (k != key_) break;
    ++candidates_;
    uint64_t p = get_u64be(cursor_.value());
    ByteView v = cursor_.value().subspan(8);
    if (p > priority_ ||
        (p == priority_ &&
         std::lexicographical_compare(value_.begin(), value_.end(), v.begin(), v.end()))) {
      priority_ = p;
      value_ = v;
    }
  }
}

}  // namespace trellis::dag
