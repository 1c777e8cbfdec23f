// trellis-dag: where a store lives and who writes to it.
//
// STORE_DIR is either a store directory (holding data.mdb, as given to
// trellis-bench sim --out) or a trellisd data directory (holding state/,
// the store, and lock, the daemon's lock; see daemon/config.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace trellis::dag {

struct StoreLocation {
  std::string store;      // the directory holding data.mdb
  std::string lock_file;  // DIR/lock of a trellisd data directory, else STORE/writer.lock
};

// DIR/state when DIR/state/data.mdb exists, else DIR itself.
StoreLocation locate_store(const std::string& dir);

// Size of the store's data.mdb in bytes (0 if it cannot be read).
uint64_t store_file_size(const std::string& store);

struct LockHolder {
  bool held = false;
  std::optional<long> pid;  // from the lock file (trellisd writes its PID there)
};

// Whether a process holds `lock_file` (an flock). Never blocks and never
// keeps the lock: when the file names no running process nobody holds it;
// else a non-blocking shared flock is tried and released at once (a daemon
// starting in that instant would be told the folder is busy).
LockHolder lock_holder(const std::string& lock_file);

}  // namespace trellis::dag
