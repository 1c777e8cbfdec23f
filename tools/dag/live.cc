#include "tools/dag/live.h"

#include <algorithm>

#include "crdt/merger.h"
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
  Winner best = element_of(cursor_.value());
  candidates_ = 1;
  valid_ = true;
  while ((at_entry_ = cursor_.next())) {
    std::string_view k;
    if (!split_element_key(cursor_.key(), &k, &id) || cursor_.value().size() < 8) break;
    if (k != key_) break;
    ++candidates_;
    Winner w = element_of(cursor_.value());
    if (beats(w, best)) best = w;
  }
  priority_ = best.priority;
  value_ = best.value;
}

}  // namespace trellis::dag
