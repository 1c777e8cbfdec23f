// IPFS Cluster's JSON pin object (api.Pin, v1.x) for Trellis pins.
#pragma once

#include <nlohmann/json.hpp>

#include "pinning/pin.h"

namespace trellis::pinning {

nlohmann::json pin_to_json(const Pin& pin);

}  // namespace trellis::pinning
