// trellis-follow: follow a cluster's pinset read-only (like
// ipfs-cluster-follow). Each followed cluster is a trellisd data folder
// under the base folder ($TRELLIS_FOLLOW_HOME, default ~/.trellis-follow),
// configured as a follower: it accepts heads only from the cluster's
// trusted peers, refuses every write, and serves no HTTP API; its only API
// is the control socket NAME/control.sock, a local unix socket.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "crdt/status.h"
#include "pinning/ipfs.h"

namespace trellis::follow {

// Exit codes (documented in --help).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // the command could not do its job
inline constexpr int kExitUsage = 2;

// Where a followed cluster's config came from (a URL or a file path).
std::string source_path(const std::string& dir);

// Prints "trellis-follow: <message>" to stderr and returns kExitFailed.
int fail(const std::string& message);

// The IPFS daemon's peer ID if its API answers within `timeout`.
Result<pinning::IpfsId> probe_ipfs(const std::string& api_multiaddr,
                                   std::chrono::milliseconds timeout);

// The follower's `info` reply when it is running (its control socket
// answers), else nothing.
std::optional<std::string> running_info(const std::string& dir);

int cmd_clusters(const std::string& base);
int cmd_init(const std::string& name, const std::string& dir, const std::vector<std::string>& args);
int cmd_run(const std::string& dir);
int cmd_list(const std::string& dir, const std::vector<std::string>& args);
int cmd_info(const std::string& name, const std::string& dir);

}  // namespace trellis::follow
