// trellis-follow: command line and dispatch.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>

#include "tools/follow/follow.h"

namespace {

using namespace trellis::follow;

const char* kUsage = R"(trellis-follow — follow a Trellis cluster's pinset read-only

Usage:
  trellis-follow
      Lists the clusters followed here: name, cluster, peer ID, whether
      the follower runs, and where its configuration came from.
  trellis-follow NAME init URL|FILE [--ipfs-api ADDR] [--listen ADDR]
      Fetches the cluster's follower configuration (published by a trusted
      peer with `trellisd follower-config`) over http(s):// or from a file,
      and creates NAME's folder with a new identity. ADDR: the IPFS API
      (default /ip4/127.0.0.1/tcp/5001; "" to follow without pinning) and
      the address to listen on for other peers (default /ip4/0.0.0.0/tcp/0,
      any free port).
  trellis-follow NAME run
      Runs the follower until Ctrl-C: waits for the IPFS daemon, replicates
      the pinset from the trusted peers, shows sync progress, and pins what
      the pinset allocates to this peer (pins with replication -1 go
      everywhere). Writing to the pinset is refused: only trusted peers can.
  trellis-follow NAME list [--json]
      The followed pins and their status on this peer. While the follower
      runs the status comes from it; when it is stopped the pins come from
      the local copy of the pinset and the status from asking IPFS.
  trellis-follow NAME info
      Configuration source, cluster name, peer ID, trusted peers, and
      whether the follower and its IPFS daemon are up.

Folders live under $TRELLIS_FOLLOW_HOME (default ~/.trellis-follow). NAME
is 1 to 64 letters, digits, '.', '-' or '_'. Each folder is a trellisd data
folder in follower mode (config.json, see docs/config.md); the follower's
only API is its control socket NAME/control.sock (`trellisd ctl --dir`).
Exit codes: 0 ok, 1 failed, 2 usage.
)";

std::string base_dir() {
  if (const char* env = std::getenv("TRELLIS_FOLLOW_HOME"); env && *env) return env;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.trellis-follow";
}

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 64 || name[0] == '.') return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') return false;
  return true;
}

int usage(const std::string& why) {
  std::fprintf(stderr, "trellis-follow: %s\nUsage: trellis-follow [NAME COMMAND [ARGS]]; see "
               "trellis-follow --help\n", why.c_str());
  return kExitUsage;
}

int run(const std::vector<std::string>& args) {
  const std::string base = base_dir();
  if (args.empty()) return cmd_clusters(base);
  if (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  const std::string& name = args[0];
  if (!valid_name(name)) return usage("\"" + name + "\" is not a valid cluster NAME");
  if (args.size() < 2) return usage("missing COMMAND after " + name + " (init, run, list, info)");
  const std::string& cmd = args[1];
  std::vector<std::string> rest(args.begin() + 2, args.end());
  const std::string dir = base + "/" + name;
  if (cmd == "init") return cmd_init(name, dir, rest);
  if (!std::filesystem::exists(dir + "/config.json"))
    return fail("no followed cluster " + name + " in " + base +
                " (create it with: trellis-follow " + name + " init URL|FILE)");
  if (cmd == "run" && rest.empty()) return cmd_run(dir);
  if (cmd == "list") return cmd_list(dir, rest);
  if (cmd == "info" && rest.empty()) return cmd_info(name, dir);
  return usage("unknown command or arguments: " + cmd + " (commands: init, run, list, info)");
}

}  // namespace

namespace trellis::follow {

int fail(const std::string& message) {
  std::fflush(stdout);
  std::fprintf(stderr, "trellis-follow: %s\n", message.c_str());
  return kExitFailed;
}

}  // namespace trellis::follow

int main(int argc, char** argv) {
  try {
    return run(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const std::exception& e) {
    return fail(std::string("unexpected error: ") + e.what());
  }
}
