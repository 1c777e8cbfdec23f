// `trellisd state export|import|cleanup`: the pinset as newline-delimited
// IPFS Cluster JSON pins (pinning/pin_json.h), read from and written to the
// data folder without a running daemon.
//
// export opens the replica read-only, so it also works while the daemon
// runs. import and cleanup take the data folder's lock (daemon/data_lock.h)
// and refuse while a daemon holds it.
#pragma once

#include <cstdio>
#include <string>

#include "crdt/status.h"

namespace trellis {

// Pins imported per commit: bounds the memory of one LMDB transaction.
inline constexpr size_t kImportChunk = 1000;
// Pins one import reads (from a pipe they are all held in memory to be
// checked first; a file is read twice instead).
inline constexpr size_t kMaxImportPins = 10'000'000;

// Writes one JSON pin per line to `out`; returns how many.
Result<size_t> export_state(const std::string& dir, std::FILE* out);

// Reads every line of `in` first (blank lines skipped) and fails, writing
// nothing, on the first bad one with its line number. Then commits all pins
// as CRDT writes, kImportChunk per block; returns how many. A regular file
// is checked in a first pass and committed while it is read again (memory
// stays flat at 10M pins); a pipe is held in memory between the two.
Result<size_t> import_state(const std::string& dir, std::FILE* in);

// Deletes the replica's store (DIR/state); the peer syncs it again from the
// others at its next start.
Status cleanup_state(const std::string& dir);

}  // namespace trellis
