// trellis-dag: the live key → value map of a store snapshot, key by key.
//
// Walks `elems` (key ‖ 0 ‖ id → priority ‖ value) with one cursor and picks
// each key's winner the way the replica does: highest priority, then the
// greatest value. Views stay valid for the read transaction.
#pragma once

#include <cstdint>
#include <string_view>

#include "crdt/store.h"

namespace trellis::dag {

class LiveKeys {
 public:
  // Positions on the first live key starting with `prefix`.
  LiveKeys(const Txn& txn, const Dbs& dbs, std::string_view prefix = {});

  bool valid() const { return valid_; }
  std::string_view key() const { return key_; }
  ByteView value() const { return value_; }
  uint64_t priority() const { return priority_; }
  size_t candidates() const { return candidates_; }  // live elements of this key
  // Moves to the next key; check valid() and status() after.
  void next();
  // Corrupt when elems held a malformed key (iteration stops there).
  const Status& status() const { return status_; }

 private:
  void load();

  Cursor cursor_;
  std::string_view prefix_;
  bool at_entry_ = false;  // the cursor is on the first entry of the next key
  bool valid_ = false;
  std::string_view key_;
  ByteView value_;
  uint64_t priority_ = 0;
  size_t candidates_ = 0;
  Status status_;
};

}  // namespace trellis::dag
