// Leaderless maintenance of the pinset (sans-I/O): re-allocating pins whose
// peers are gone, and removing expired pins.
//
// No leader decides: every peer runs the same check over the same converged
// state, but for each CID only one live peer acts — the one whose SHA-256 of
// its peer ID is closest (XOR over the first 8 bytes) to the CID's multihash
// digest. Peers that agree on who is alive agree on who acts; when views
// differ for a moment, two peers may write the same decision and the CRDT
// keeps one of them, which is harmless.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "pinning/allocator.h"
#include "pinning/pin.h"

namespace trellis::pinning {

// The peer among `live` (non-empty) that acts for `cid`.
const std::string& responsible_peer(const Cid& cid, std::span<const std::string> live);

enum class Action { none, reallocate, remove };

struct Decision {
  Action action = Action::none;
  Pin pin;             // the pin to write (reallocate)
  std::string reason;  // for the log: why, or why nothing could be done
};

// What `pin` needs at `now` (unix nanoseconds): removal once expired;
// re-allocation when allocated peers are gone (down longer than the
// re-pinning delay) and fewer than min allocations remain, re-allocated
// among `candidates` (the live peers with metrics), keeping the ones that
// remain. "Everywhere" pins never need re-allocation.
Decision maintain(const Pin& pin, int64_t now, const std::function<bool(const std::string&)>& gone,
                  std::span<const PeerMetrics> candidates, const AllocatorOptions& options);

}  // namespace trellis::pinning
