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

// Pins imported per commit: bounds the memory of one batch and of the LMDB
// pages one transaction dirties (each pin lands on its own B-tree page once
// the pinset is large: about 40 MB at 5,000 pins a commit).
inline constexpr size_t kImportChunk = 5'000;

// Writes one JSON pin per line to `out`; returns how many.
Result<size_t> export_state(const std::string& dir, std::FILE* out);

// Reads every line of `in` first (blank lines skipped) and fails, writing
// nothing, on the first bad one with its line number. The checked pins wait
// in an unnamed temporary file in DIR, not in memory, so memory
// stays flat whatever the input's size. Then commits them as CRDT writes,
// kImportChunk per commit, with one fsync at the end; returns how many.
Result<size_t> import_state(const std::string& dir, std::FILE* in);

// Deletes the replica's store (DIR/state); the peer syncs it again from the
// others at its next start.
Status cleanup_state(const std::string& dir);

}  // namespace trellis
