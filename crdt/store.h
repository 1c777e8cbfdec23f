// Store: one LMDB environment holding a replica's named databases.
//
// Layout (see docs/crdt.md):
//   blocks   CID → block bytes (every stored block, merged or not)
//   merged   CID → height (u64 BE) of each block merged into the state
//   heads    CID → height: merged blocks no merged block links to
//   elems    key ‖ 0x00 ‖ id → priority (u64 BE) ‖ value: live elements
//   tombs    key ‖ 0x00 ‖ id → "": tombstoned elements
//   pending  CID → count (u64 BE) of its links not merged yet
//   waiters  CID → CID (dupsort): blocks pending on a link
//   wants    CID → peer hint: blocks referenced but not stored
//   ready    CID → "": stored blocks whose links are all merged
//   staged   CID → priority: streamed blocks waiting to merge oldest first
//   meta     name → value: format version and flags
//
// Threading: a Store is used by one thread at a time. One process may open a
// directory for writing (an exclusive lock on `writer.lock` enforces it);
// any number may open it read-only at the same time.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "crdt/bytes.h"
#include "crdt/status.h"

namespace trellis {

inline constexpr uint32_t kStoreFormat = 1;

struct StoreOptions {
  bool read_only = false;
  // Starting map size; it doubles whenever a write finds the map full.
  size_t initial_map_size = size_t{256} << 20;
  // fsync on every commit. Off (MDB_NOSYNC) keeps commits atomic and safe
  // against a process crash, but not against power loss: for simulations
  // and benchmarks of a layer above, never for a daemon.
  bool sync = true;
  // Fault injection for tests: called before every write; returning true
  // makes that write fail with an I/O error (the transaction then aborts).
  std::function<bool()> fail_write;
};

struct Dbs {
  MDB_dbi blocks, merged, heads, elems, tombs, pending, waiters, wants, ready, staged, meta;
};

class Cursor;

// A transaction. Views returned by get() and cursors stay valid only until
// the next write in the same transaction or its end.
class Txn {
 public:
  explicit Txn(MDB_txn* txn, const std::function<bool()>* fail_write = nullptr)
      : txn_(txn), fail_write_(fail_write) {}
  MDB_txn* raw() const { return txn_; }

  std::optional<ByteView> get(MDB_dbi db, ByteView key) const;
  bool has(MDB_dbi db, ByteView key) const { return get(db, key).has_value(); }
  // Writes fail only through LMDB (map full, I/O); the Status says which.
  Status put(MDB_dbi db, ByteView key, ByteView value);
  Status del(MDB_dbi db, ByteView key);  // absent keys are not an error
  Status del_dup(MDB_dbi db, ByteView key, ByteView value);
  size_t count(MDB_dbi db) const;
  // True once a write failed because the map is full (Store::write grows it).
  bool map_full() const { return map_full_; }

 private:
  Status check(int rc, const char* what);
  MDB_txn* txn_;
  const std::function<bool()>* fail_write_;
  bool map_full_ = false;
};

class Cursor {
 public:
  Cursor(const Txn& txn, MDB_dbi db);
  ~Cursor();
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;

  bool first();
  bool seek(ByteView key);  // first entry ≥ key (an empty key: the first entry)
  bool next();              // next entry (next duplicate for dupsort)
  bool next_dup();          // next duplicate of the current key only
  bool valid() const { return valid_; }
  ByteView key() const;
  ByteView value() const;

 private:
  bool step(MDB_cursor_op op, ByteView key = {});
  MDB_cursor* cur_ = nullptr;
  MDB_val k_{}, v_{};
  bool valid_ = false;
};

class Store {
 public:
  static Result<std::unique_ptr<Store>> open(const std::string& dir, const StoreOptions& opts);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const Dbs& dbs() const { return dbs_; }
  bool read_only() const { return read_only_; }
  const std::string& dir() const { return dir_; }
  size_t map_size() const;

  // Runs fn in one write transaction and commits if it returns ok. When the
  // map fills up, the transaction is aborted, the map doubled and fn run
  // again from the start: fn must keep its effects inside the transaction or
  // reset them itself at its start.
  Status write(const std::function<Status(Txn&)>& fn);
  // Runs fn in a read transaction (a snapshot).
  Status read(const std::function<Status(const Txn&)>& fn) const;
  // Flushes every commit to disk (fsync): with sync off, makes the commits
  // so far durable at once.
  Status sync();

 private:
  Store() = default;
  Status grow();
  Status grow_ahead();  // doubles the map when it is over half used

  std::string dir_;
  MDB_env* env_ = nullptr;
  Dbs dbs_{};
  bool read_only_ = false;
  int lock_fd_ = -1;
  std::function<bool()> fail_write_;
};

// LMDB error → Status.
Status lmdb_status(int rc, const char* what);

// Big-endian fixed-width integers for keys and values that sort.
void put_u64be(Bytes& out, uint64_t v);
uint64_t get_u64be(ByteView in);

}  // namespace trellis
