// Human-readable output of the API's JSON objects (the text mode; --json
// prints the API's JSON instead). Every function tolerates missing fields.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace trellis::cli {

using json = nlohmann::json;

// "12D3Koo…WxYz" for long peer IDs, the ID itself otherwise.
std::string short_id(const std::string& id);

// A peer (api.ID): "ID | NAME | Sees N other peers" with addresses and IPFS.
std::string format_id(const json& id);

// An allocation (api.Pin): "CID | NAME | PIN | Repl. Factor: … | Allocations: …".
std::string format_pin(const json& pin);

// A status (api.GlobalPinInfo), IPFS Cluster style:
//   CID | NAME:
//       > peername : STATUS | timestamp | error
std::string format_status(const json& gpi);

// Metrics (api.Metric) and alerts (api.Alert), one line each.
std::string format_metric(const json& m);
std::string format_alert(const json& a);

// The connectivity graph (api.ConnectGraph) as Graphviz DOT.
std::string format_dot(const json& graph);

}  // namespace trellis::cli
