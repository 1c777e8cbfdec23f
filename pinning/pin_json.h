// IPFS Cluster v1.x's JSON pin object (api.Pin) for a Pin: what its REST API
// returns and what `trellisd state export/import` write and read.
//
// Output follows upstream: CIDs as strings (null when absent), `type` as its
// name ("pin", "meta-pin", …), mode "recursive"/"direct", times as RFC 3339
// in UTC with nanoseconds ("0001-01-01T00:00:00Z" when unset), shard_size 0.
//
// Input is untrusted: pin_from_json() accepts CIDs as "..." or {"/":"..."},
// `type` as its name or upstream's numeric flag (2 pin, 4 meta-pin,
// 8 clusterdag-pin, 16 shard-pin), null for any absent list, map or CID, and
// RFC 3339 times with any offset. Unknown fields, wrong types and anything
// validate() refuses fail with a message naming the field. Callers bound the
// text they parse by kMaxPinJsonBytes.
#pragma once

#include <nlohmann/json.hpp>

#include "pinning/pin.h"

namespace trellis::pinning {

inline constexpr size_t kMaxPinJsonBytes = 256 * 1024;

// A pin as IPFS Cluster's JSON, keys in byte order as nlohmann's dump()
// writes them, appended to `out` without building a tree (the listing
// routes write millions of these).
void append_pin_json(const Pin& pin, std::string& out);
nlohmann::json pin_to_json(const Pin& pin);  // the same, parsed
Result<Pin> pin_from_json(const nlohmann::json& j);

}  // namespace trellis::pinning
