// The CLI's commands. Each takes the parsed command line (global options
// already applied to the Client) and returns the exit code, or throws
// cli::Failure (see cli.h).
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "tools/cli/args.h"
#include "tools/cli/client.h"

namespace trellis::cli {

using json = nlohmann::json;

struct Context {
  Client& client;
  const Parsed& args;  // positional = the operands after the command words
  bool json_output;    // --json
};

// One JSON value from a non-streamed endpoint; an error status or an
// unreadable body throws Failure{kApiError}.
json call_json(Context& cx, const std::string& method, const std::string& target,
               std::string* raw = nullptr);

// A streamed (NDJSON) list: each item as it arrives, parsed and raw. 204 is
// an empty list. An X-Stream-Error trailer throws after the items were seen.
using ItemFn = std::function<void(const json& item, std::string_view raw)>;
void call_list(Context& cx, const std::string& method, const std::string& target, const ItemFn& fn);

// Prints raw JSON as one line on stdout.
void print_line(std::string_view raw);

int cmd_id(Context& cx);
int cmd_version(Context& cx);
int cmd_peers_ls(Context& cx);
int cmd_peers_rm(Context& cx);
int cmd_status(Context& cx);
int cmd_recover(Context& cx);
int cmd_health_graph(Context& cx);
int cmd_health_metrics(Context& cx);
int cmd_health_alerts(Context& cx);

int cmd_pin_add(Context& cx);
int cmd_pin_update(Context& cx);
int cmd_pin_rm(Context& cx);
int cmd_pin_ls(Context& cx);

}  // namespace trellis::cli
