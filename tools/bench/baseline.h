// The raw-LMDB baseline: what a minimal key-value store would do with the
// same data in the same process — a fresh environment, one named database,
// the same keys and values, the same number of puts per transaction, and
// default (synced) commits.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "crdt/bytes.h"
#include "crdt/status.h"

namespace trellis::bench {

struct KeyValue {
  ByteView key;
  ByteView value;
};

class RawLmdb {
 public:
  // sync=false opens with MDB_NOSYNC (only for untimed setup).
  static Result<std::unique_ptr<RawLmdb>> open(const std::string& dir, bool sync = true);
  ~RawLmdb();
  RawLmdb(const RawLmdb&) = delete;
  RawLmdb& operator=(const RawLmdb&) = delete;

  // One write transaction holding every put, committed.
  Status put_batch(std::span<const KeyValue> kvs);
  // Walks the whole database with a cursor; returns the entries seen and
  // adds the bytes of keys and values to *bytes (so the walk is not elided).
  Result<size_t> scan(uint64_t* bytes) const;
  // Entries whose key starts with prefix.
  Result<size_t> scan_prefix(std::string_view prefix, uint64_t* bytes) const;

 private:
  RawLmdb() = default;
  MDB_env* env_ = nullptr;
  MDB_dbi dbi_ = 0;
};

}  // namespace trellis::bench
