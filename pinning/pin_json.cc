#include "pinning/pin_json.h"

#include "pinning/rfc3339.h"

namespace trellis::pinning {

using json = nlohmann::json;

namespace {

json strings_or_null(const std::vector<std::string>& v) {
  if (v.empty()) return nullptr;
  return json(v);
}

}  // namespace

json pin_to_json(const Pin& p) {
  json metadata = json::object();
  for (const auto& [k, v] : p.metadata) metadata[k] = v;
  return json{{"replication_factor_min", p.replication_factor_min},
              {"replication_factor_max", p.replication_factor_max},
              {"name", p.name},
              {"mode", mode_name(p.mode)},
              {"shard_size", 0},
              {"user_allocations", strings_or_null(p.user_allocations)},
              {"expire_at", format_rfc3339(p.expire_at)},
              {"metadata", metadata},
              {"pin_update", p.pin_update ? json(p.pin_update->to_string()) : json(nullptr)},
              {"origins", strings_or_null(p.origins)},
              {"cid", p.cid.to_string()},
              {"type", type_name(p.type)},
              {"allocations", json(p.allocations)},
              {"max_depth", p.max_depth},
              {"reference", p.reference ? json(p.reference->to_string()) : json(nullptr)},
              {"timestamp", format_rfc3339(p.timestamp)}};
}

}  // namespace trellis::pinning
