// The pin: what the cluster wants pinned, stored as the CRDT value under
// /pins/<cid>. Fields follow IPFS Cluster's pin object so its clients and
// operators find what they know.
//
// Encoding: a msgpack array with a version number first and every field at a
// fixed position (defaults included, metadata keys sorted), so one pin has
// one encoding and equal pins are equal bytes. decode_pin() takes untrusted
// bytes (any peer may write a value): every count and size is bounded and a
// malformed value fails with a corrupt Status, never an exception.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/bytes.h"
#include "crdt/cid.h"
#include "crdt/status.h"

namespace trellis::pinning {

inline constexpr uint64_t kPinVersion = 1;
inline constexpr std::string_view kPinPrefix = "/pins/";

// Bounds on what a pin may hold (enforced by validate() and decode_pin()).
inline constexpr size_t kMaxNameBytes = 1024;
inline constexpr size_t kMaxMetadataEntries = 64;
inline constexpr size_t kMaxMetadataBytes = 4096;  // keys + values together
inline constexpr size_t kMaxPeers = 256;           // allocations, user_allocations
inline constexpr size_t kMaxOrigins = 16;
inline constexpr size_t kMaxStringBytes = 512;     // a peer ID or origin multiaddr
inline constexpr size_t kMaxEncodedPin = 64 * 1024;

enum class Mode : uint8_t { recursive, direct };

// IPFS Cluster's pin types; Trellis writes only `data` but keeps the others
// readable.
enum class PinType : uint8_t { data = 1, meta = 2, cluster_dag = 3, shard = 4 };

const char* mode_name(Mode m);                 // "recursive" | "direct"
Result<Mode> parse_mode(std::string_view s);   // also accepts "" → recursive
const char* type_name(PinType t);              // "pin", "meta-pin", …

struct Pin {
  Cid cid;
  PinType type = PinType::data;
  std::string name;
  Mode mode = Mode::recursive;
  // -1 = on every peer (both or neither), 0 = the config default, else a
  // count with min <= max.
  int32_t replication_factor_min = 0;
  int32_t replication_factor_max = 0;
  std::vector<std::string> allocations;       // peer IDs; empty for "everywhere"
  std::vector<std::string> user_allocations;  // asked for by the user, tried first
  int64_t expire_at = 0;                      // unix nanoseconds; 0 = never
  std::map<std::string, std::string> metadata;
  std::optional<Cid> pin_update;              // the pin this one replaces
  std::vector<std::string> origins;           // multiaddrs of providers to connect to
  int32_t max_depth = -1;                     // -1 = recursive (unbounded), 0 = direct
  std::optional<Cid> reference;
  int64_t timestamp = 0;                      // unix nanoseconds when it was pinned

  bool everywhere() const { return replication_factor_min == -1; }
  // Whether `peer` should hold this pin (allocated to it, or everywhere).
  bool allocated_to(std::string_view peer) const;
  friend bool operator==(const Pin&, const Pin&) = default;
};

std::string pin_key(const Cid& cid);  // "/pins/<cid>"

// Every removal of a pin (unpin, expiry) also writes "/removed/<cid>" = the
// removed pin's timestamp, in the same commit. A pin is an add-wins CRDT
// value, so a re-allocation written concurrently with an unpin (by a peer
// that had not seen it) brings the pin back; the marker tells maintenance
// that this pin (same CID, same timestamp: a re-pin has a new one) was
// removed, and the tracker that IPFS may still hold it.
inline constexpr std::string_view kRemovedPrefix = "/removed/";
std::string removed_key(const Cid& cid);
Bytes encode_removed(int64_t timestamp);          // 8 bytes, big-endian
std::optional<int64_t> decode_removed(ByteView);  // none unless exactly 8 bytes
// "a,b,,c" → {"a", "b", "c"} (allocations, origins and CID lists as given).
std::vector<std::string> split_commas(std::string_view s);
// The CID in a /pins/ key; fails for any other key.
Result<Cid> cid_of_key(std::string_view key);

Bytes encode_pin(const Pin& pin);
Result<Pin> decode_pin(ByteView bytes);
// decode_pin() into `out`, reusing its strings and vectors (a scan decodes
// every pin into one Pin); on failure `out` holds part of the pin.
Status decode_pin_into(ByteView bytes, Pin& out);

// Shape checks of one pin on its own (sizes, mode vs max_depth, factors).
Status validate(const Pin& pin);

// The cluster's defaults for pins that leave factors at 0.
struct PinDefaults {
  int32_t replication_factor_min = -1;
  int32_t replication_factor_max = -1;
};

// Turns a pin request into the pin to store, as IPFS Cluster does: checks
// the request, resolves 0 factors from `defaults`, refuses an expiry in the
// past (`now` in unix nanoseconds) and a recursive → direct downgrade of
// `existing` (the pin already stored for this CID, if any), and for a
// pin_update copies allocations and factors from `update_from` (the stored
// pin it replaces; an error when it is not pinned). Sets the timestamp.
// Allocation itself is the allocator's job.
Result<Pin> prepare(Pin request, const std::optional<Pin>& existing,
                    const std::optional<Pin>& update_from, const PinDefaults& defaults,
                    int64_t now);

}  // namespace trellis::pinning
