// The join baseline: the least work that moves a pinset to a new machine
// durably. A reader thread scans the /pins/ keys and values of a peer's
// store (read-only) and writes them, length-prefixed, to a loopback TCP
// socket; the receiving side puts them into a fresh raw LMDB store,
// `batch` per synced transaction.
#pragma once

#include <cstdint>
#include <string>

#include "crdt/status.h"

namespace trellis::bench {

struct CopyResult {
  uint64_t pins = 0;
  uint64_t bytes = 0;  // keys and values sent
  double seconds = 0;  // first read to the last commit
};

Result<CopyResult> raw_copy(const std::string& state_dir, const std::string& raw_dir, size_t batch);

// The same /pins/ keys and values put into a fresh raw LMDB store in the
// benchmark process, without fsync (setup for the list and footprint
// baselines); returns how many.
Result<uint64_t> raw_mirror(const std::string& state_dir, const std::string& raw_dir);

}  // namespace trellis::bench
