#include "tools/dag/join.h"

#include <algorithm>

namespace trellis::dag {

namespace {

// LMDB's default order: bytes compared unsigned, a prefix first.
int compare(ByteView x, ByteView y) {
  auto [ix, iy] = std::mismatch(x.begin(), x.end(), y.begin(), y.end());
  if (ix == x.end()) return iy == y.end() ? 0 : -1;
  if (iy == y.end()) return 1;
  return *ix < *iy ? -1 : 1;
}

bool same_value(ByteView x, ByteView y) {
  return std::equal(x.begin(), x.end(), y.begin(), y.end());
}

}  // namespace

Status for_each_unmatched(const Txn& ta, MDB_dbi a, const Txn& tb, MDB_dbi b,
                          const std::function<Status(Side, ByteView, ByteView)>& fn) {
  Cursor ca(ta, a), cb(tb, b);
  bool more_a = ca.first(), more_b = cb.first();
  while (more_a || more_b) {
    int c = !more_a ? 1 : !more_b ? -1 : compare(ca.key(), cb.key());
    if (c < 0) {
      TRELLIS_TRY(fn(Side::a, ca.key(), ca.value()));
      more_a = ca.next();
    } else if (c > 0) {
      TRELLIS_TRY(fn(Side::b, cb.key(), cb.value()));
      more_b = cb.next();
    } else {
      more_a = ca.next();
      more_b = cb.next();
    }
  }
  return Status::ok();
}

Result<uint64_t> for_each_key_diff(const Txn& ta, const Dbs& a, const Txn& tb, const Dbs& b,
                                   const std::function<Status(const KeyDiff&)>& fn) {
  LiveKeys la(ta, a), lb(tb, b);
  uint64_t same = 0;
  while (la.valid() || lb.valid()) {
    int c = !la.valid() ? 1 : !lb.valid() ? -1 : la.key().compare(lb.key());
    if (c < 0) {
      TRELLIS_TRY(fn({la.key(), &la, nullptr}));
      la.next();
    } else if (c > 0) {
      TRELLIS_TRY(fn({lb.key(), nullptr, &lb}));
      lb.next();
    } else {
      if (same_value(la.value(), lb.value()))
        ++same;
      else
        TRELLIS_TRY(fn({la.key(), &la, &lb}));
      la.next();
      lb.next();
    }
  }
  TRELLIS_TRY(la.status());
  TRELLIS_TRY(lb.status());
  return same;
}

}  // namespace trellis::dag
