// Pin status on this peer, computed, never stored: the stateless tracker
// derives it from three things it can read at any time — the pin in the
// converged CRDT state (if any), what the IPFS daemon's pin/ls says, and the
// in-flight operation for the CID (if any). Names and meanings follow IPFS
// Cluster's TrackerStatus so its clients read them unchanged.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pinning/pin.h"

namespace trellis::pinning {

enum class TrackerStatus : uint8_t {
  undefined,
  cluster_error,          // IPFS could not be asked
  pin_error,              // the last pin attempt failed (retried with backoff)
  unpin_error,            // the last unpin attempt failed
  pinned,
  pinning,                // pin/add in progress
  unpinning,              // pin/rm in progress
  unpinned,               // not in the cluster's state (or never pinned here)
  remote,                 // in the state, allocated to other peers
  pin_queued,
  unpin_queued,
  unexpectedly_unpinned,  // allocated here, no operation, yet IPFS does not pin it
};

const char* status_name(TrackerStatus s);  // "pin_queued", …
Result<TrackerStatus> parse_status(std::string_view s);
// Whether `s` is one of the error states that recover() acts on.
bool is_error(TrackerStatus s);

// What IPFS reports for one CID.
enum class IpfsPin : uint8_t {
  unknown,    // IPFS is unreachable: cannot tell
  none,
  direct,
  recursive,
  indirect,   // held only because a recursive pin reaches it
};

enum class OpType : uint8_t { pin, unpin };
enum class Phase : uint8_t { queued, in_progress, error };

// The one operation the tracker has in flight (or failed) for a CID.
struct OpView {
  OpType type = OpType::pin;
  Phase phase = Phase::queued;
  uint32_t attempts = 0;  // failed attempts so far
  std::string error;      // the last failure, for pin_error/unpin_error
};

// The status of `desired` (the state's pin for the CID, nullptr when the
// state has none) on peer `self`.
TrackerStatus compute_status(const Pin* desired, std::string_view self, IpfsPin ipfs,
                             const OpView* op);

// Whether IPFS's pin satisfies the pin's mode: a recursive pin needs a
// recursive IPFS pin; a direct pin is satisfied by a direct or recursive one.
bool satisfies(IpfsPin ipfs, Mode mode);

}  // namespace trellis::pinning
