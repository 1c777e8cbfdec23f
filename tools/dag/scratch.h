// trellis-dag: an LMDB-backed set and FIFO queue in a temporary directory,
// so that walking a DAG of millions of blocks keeps its visited set on disk
// instead of in memory. Removed when destroyed.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "crdt/bytes.h"
#include "crdt/status.h"

namespace trellis::dag {

// Makes a fresh directory under $TMPDIR (or /tmp) named prefix-XXXXXX.
Result<std::string> make_temp_dir(const std::string& prefix);
// Removes a directory made by make_temp_dir and everything in it.
void remove_temp_dir(const std::string& dir);

class ScratchDb {
 public:
  static Result<std::unique_ptr<ScratchDb>> create();
  ~ScratchDb();
  ScratchDb(const ScratchDb&) = delete;
  ScratchDb& operator=(const ScratchDb&) = delete;

  // ---- an ordered set of byte strings (keys up to 511 bytes) ----
  // True if `key` was not in the set yet.
  Result<bool> insert(ByteView key);
  bool contains(ByteView key) const;
  uint64_t set_size() const { return set_size_; }
  // Calls fn for each key in byte order until it returns false.
  Status for_each(const std::function<bool(ByteView)>& fn) const;

  // ---- a FIFO queue ----
  Status push(ByteView item);
  // The oldest item, or nullopt when the queue is empty.
  Result<std::optional<Bytes>> pop();
  uint64_t queue_size() const { return tail_ - head_; }

 private:
  ScratchDb() = default;
  Status wrote();  // commits every so many writes to bound dirty pages

  std::string dir_;
  MDB_env* env_ = nullptr;
  MDB_txn* txn_ = nullptr;  // one write transaction, renewed by wrote()
  MDB_dbi set_ = 0, queue_ = 0;
  uint64_t set_size_ = 0, head_ = 0, tail_ = 0, writes_ = 0;
};

}  // namespace trellis::dag
