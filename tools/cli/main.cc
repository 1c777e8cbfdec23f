// trellis: command-line client of a Trellis peer's REST API (IPFS Cluster's
// v1 API), modelled on ipfs-cluster-ctl. This file: the command table with
// the help texts, global options, and dispatch.
#include <cstdint>
#include <iostream>

#include "tools/cli/cli.h"
#include "tools/cli/commands.h"

namespace trellis::cli {
namespace {

constexpr size_t kMany = SIZE_MAX;

struct Command {
  const char* path;      // "pin add"
  const char* operands;  // "CID [options]"
  const char* summary;
  const char* help;  // what it does, its options and examples
  std::vector<OptionSpec> options;
  size_t min_operands, max_operands;
  int (*run)(Context&);
};

const std::vector<OptionSpec> kGlobal = {{"host", true, true},   {"basic-auth", true, false},
                                         {"json", false, false}, {"timeout", true, false},
                                         {"no-check-certificate", false, false},
                                         {"help", false, false}, {"version", false, false}};

const char* const kGlobalHelp = R"(Global options (before or after the command):
  --host URL             a peer's REST API: http://HOST:PORT, https://HOST:PORT or
                         /ip4/HOST/tcp/PORT (default http://127.0.0.1:9094). HTTPS
                         certificates are checked against the system CAs, or
                         the file in SSL_CERT_FILE. Give it several times
                         to fail over: hosts are tried in order and the next is
                         used when one cannot be reached.
  --basic-auth USER:PW   HTTP Basic credentials (restapi.basic_auth_credentials)
  --no-check-certificate accept any HTTPS certificate (self-signed, wrong name)
  --json                 print the API's JSON as is; lists one object per line
  --timeout D            give up on a host silent for D per step (connect, send,
                         each read; default 30s, 0 = never). D like 500ms, 30s, 2m
  --help, -h             help on the command
  --version              the CLI's version

Exit codes:
  0  done
  1  the API returned an error (its message is printed)
  2  bad usage
  3  cannot reach any host
  4  --wait timed out, or a pin/unpin failed on a peer
)";

const std::vector<OptionSpec> kPinOptions = {{"name", true, false},
                                             {"replication", true, false},
                                             {"replication-min", true, false},
                                             {"replication-max", true, false},
                                             {"allocations", true, false},
                                             {"expire-in", true, false},
                                             {"metadata", true, true},
                                             {"mode", true, false},
                                             {"wait", false, false},
                                             {"wait-timeout", true, false}};

#define PIN_OPTIONS_HELP                                                                   \
  "  --name N                   a name for the pin\n"                                      \
  "  --replication N            pin on N peers (-1: every peer; 0: the cluster default)\n" \
  "  --replication-min N        at least N peers, or the pin fails\n"                      \
  "  --replication-max N        at most N peers (with --replication-min)\n"                \
  "  --allocations P1,P2        peers to prefer (cluster peer IDs)\n"                      \
  "  --expire-in D              unpin after D (e.g. 1h30m, 45m, 300s)\n"                   \
  "  --metadata K=V             a metadata entry; repeat for more\n"                       \
  "  --mode recursive|direct    pin the whole DAG (default) or only the root block\n"      \
  "  --wait                     wait until every allocated peer reports pinned,\n"         \
  "                             showing progress; then print the status\n"                 \
  "  --wait-timeout D           give up waiting after D (exit 4; default: no limit)\n"

const std::vector<Command> kCommands = {
    {"id",
     "",
     "the peer's identity: ID, name, addresses, IPFS daemon",
     "GET /id.\n\nExample:\n  trellis id\n  trellis --host /ip4/10.0.0.2/tcp/9094 id --json\n",
     {},
     0,
     0,
     cmd_id},
    {"version",
     "",
     "the CLI's version and the peer's",
     "GET /version, printed with the CLI's own version.\n\nExample:\n  trellis version\n",
     {},
     0,
     0,
     cmd_version},
    {"peers ls",
     "",
     "the cluster's peers, as seen by the peer asked",
     "GET /peers (streamed).\n\nExample:\n  trellis peers ls\n  trellis peers ls --json | jq -r "
     ".id\n",
     {},
     0,
     0,
     cmd_peers_ls},
    {"peers rm",
     "PEER",
     "remove a peer from the cluster",
     "DELETE /peers/PEER. A peer that does not support it answers with an error,\n"
     "which is printed (exit 1).\n\nExample:\n  trellis peers rm 12D3KooW...\n",
     {},
     1,
     1,
     cmd_peers_rm},
    {"pin add", "CID [options]", "pin a CID in the cluster",
     "POST /pins/CID with the options below; prints the pin as stored (CID, name,\n"
     "allocations).\n\nOptions:\n" PIN_OPTIONS_HELP "\nExamples:\n"
     "  trellis pin add bafy... --name backup --replication 2\n"
     "  trellis pin add bafy... --replication-min 2 --replication-max 3 --metadata app=web \\\n"
     "      --expire-in 72h --wait --wait-timeout 5m\n",
     kPinOptions, 1, 1, cmd_pin_add},
    {"pin update", "FROM TO [options]", "pin TO in place of FROM, reusing FROM's allocations",
     "POST /pins/TO?pin-update=FROM: TO is pinned, with the options below, on the\n"
     "peers that hold FROM, so they fetch only the blocks that differ.\n"
     "FROM stays pinned; remove it with \"trellis pin rm FROM\".\n\nOptions:\n" PIN_OPTIONS_HELP
     "\nExample:\n  trellis pin update bafyOLD... bafyNEW... --wait\n",
     kPinOptions, 2, 2, cmd_pin_update},
    {"pin rm",
     "CID [--wait [--wait-timeout D]]",
     "unpin a CID from the cluster",
     "DELETE /pins/CID.\n\nOptions:\n"
     "  --wait              wait until no peer reports the CID pinned or unpinning\n"
     "  --wait-timeout D    give up waiting after D (exit 4; default: no limit)\n"
     "\nExample:\n  trellis pin rm bafy... --wait\n",
     {{"wait", false, false}, {"wait-timeout", true, false}},
     1,
     1,
     cmd_pin_rm},
    {"pin ls",
     "[CID...] [--filter pin|meta-pin|all]",
     "the pinset (what should be pinned, and where)",
     "GET /allocations?filter=F (streamed), or GET /allocations/CID for each CID.\n"
     "Shows the cluster's intent; \"trellis status\" shows what the peers report.\n\n"
     "Options:\n  --filter F    pin types to list, comma-separated (default pin)\n"
     "\nExample:\n  trellis pin ls\n  trellis pin ls bafy... --json\n",
     {{"filter", true, false}},
     0,
     kMany,
     cmd_pin_ls},
    {"status",
     "[CID...] [--filter S,S] [--local]",
     "what each peer reports for the pins",
     "GET /pins/CID for each CID, or GET /pins (streamed) for the whole pinset.\n"
     "Output: \"CID | NAME:\" then a line per peer: \"> peername : STATUS | time | error\".\n\n"
     "Options:\n"
     "  --filter S,S   only pins where some peer has one of these statuses: pinned,\n"
     "                 pinning, pin_queued, pin_error, unpinned, unpinning,\n"
     "                 unpin_queued, unpin_error, cluster_error, remote,\n"
     "                 unexpectedly_unpinned, and the groups error and queued\n"
     "  --local        only the peer asked (no cluster-wide round trip)\n"
     "\nExample:\n  trellis status\n  trellis status --filter error,queued\n  trellis status "
     "bafy... --local\n",
     {{"filter", true, false}, {"local", false, false}},
     0,
     kMany,
     cmd_status},
    {"recover",
     "[CID...] [--local]",
     "retry pins in an error state",
     "POST /pins/CID/recover for each CID, or POST /pins/recover (streamed) for\n"
     "every pin in error; prints the resulting statuses.\n\n"
     "Options:\n  --local    only on the peer asked\n"
     "\nExample:\n  trellis recover bafy...\n  trellis recover --local\n",
     {{"local", false, false}},
     0,
     kMany,
     cmd_recover},
    {"health graph",
     "",
     "the cluster's connectivity as a Graphviz DOT graph",
     "GET /health/graph, printed as DOT (--json: the API's JSON).\n\n"
     "Example:\n  trellis health graph | dot -Tsvg > cluster.svg\n",
     {},
     0,
     0,
     cmd_health_graph},
    {"health metrics",
     "[NAME]",
     "metric names, or the latest metric NAME of each peer",
     "GET /monitor/metrics (the names) or GET /monitor/metrics/NAME.\n\n"
     "Example:\n  trellis health metrics\n  trellis health metrics ping\n",
     {},
     0,
     1,
     cmd_health_metrics},
    {"health alerts",
     "",
     "peers whose metrics expired (e.g. stopped pinging)",
     "GET /health/alerts.\n\nExample:\n  trellis health alerts --json\n",
     {},
     0,
     0,
     cmd_health_alerts},
};

void print_top_help(std::ostream& o) {
  o << "trellis " TRELLIS_CLI_VERSION
       " — command-line client of a Trellis peer's REST API\n"
       "(the IPFS Cluster v1 API; works like ipfs-cluster-ctl)\n\n"
       "Usage: trellis [global options] COMMAND [options]\n\nCommands:\n";
  for (const auto& c : kCommands) {
    std::string left = std::string(c.path) + (*c.operands ? " " : "") + c.operands;
    if (left.size() > 44) left = std::string(c.path) + " …";
    o << "  " << left << std::string(left.size() < 46 ? 46 - left.size() : 1, ' ') << c.summary
      << "\n";
  }
  o << "\n\"trellis COMMAND --help\" explains a command, with examples.\n\n" << kGlobalHelp;
}

void print_help(const Command& c) {
  std::cout << "Usage: trellis " << c.path << (*c.operands ? " " : "") << c.operands << "\n\n"
            << c.summary << ".\n\n"
            << c.help << "\n"
            << kGlobalHelp;
}

bool is_group(const std::string& w) {
  return w == "pin" || w == "peers" || w == "health";
}

int run(const std::vector<std::string>& args) {
  // The command words: the first two operands, skipping global options.
  std::vector<size_t> words;
  for (size_t i = 0; i < args.size() && words.size() < 2; ++i) {
    const std::string& a = args[i];
    if (a.starts_with("-")) {
      for (const auto& g : kGlobal)
        if (a == std::string("--") + g.name && g.takes_value) ++i;
      continue;
    }
    words.push_back(i);
  }
  std::string w1 = words.size() > 0 ? args[words[0]] : "";
  std::string w2 = words.size() > 1 ? args[words[1]] : "";
  const Command* cmd = nullptr;
  size_t used = 0;
  for (const auto& c : kCommands) {
    if (!w2.empty() && c.path == w1 + " " + w2)
      cmd = &c, used = 2;
    else if (!cmd && c.path == w1)
      cmd = &c, used = 1;
  }

  std::vector<std::string> rest;
  for (size_t i = 0; i < args.size(); ++i)
    if (!(used > 0 && i == words[0]) && !(used > 1 && i == words[1])) rest.push_back(args[i]);

  std::vector<OptionSpec> specs = kGlobal;
  if (cmd) specs.insert(specs.end(), cmd->options.begin(), cmd->options.end());
  // Before the command is known, parse with the global options only.
  Parsed p = parse_args(cmd ? rest : std::vector<std::string>{}, specs);
  if (!cmd) {
    bool help = false, version = false;
    for (const auto& a : args) help = help || a == "--help" || a == "-h" || a == "help";
    for (const auto& a : args) version = version || a == "--version";
    if (version && w1.empty()) {
      std::cout << "trellis CLI " TRELLIS_CLI_VERSION "\n";
      return kOk;
    }
    if (w1.empty() || w1 == "help" || (help && is_group(w1))) {
      print_top_help(help || w1 == "help" ? std::cout : std::cerr);
      return help || w1 == "help" ? kOk : kUsage;
    }
    if (is_group(w1))
      fail(kUsage, w2.empty() ? "\"" + w1 + "\" needs a subcommand (see trellis --help)"
                              : "unknown command \"" + w1 + " " + w2 + "\" (see trellis --help)");
    fail(kUsage, "unknown command \"" + w1 + "\" (see trellis --help)");
  }
  if (p.has("help")) {
    print_help(*cmd);
    return kOk;
  }
  if (p.has("version")) {
    std::cout << "trellis CLI " TRELLIS_CLI_VERSION "\n";
    return kOk;
  }
  size_t n = p.positional.size();
  if (n < cmd->min_operands || n > cmd->max_operands)
    fail(kUsage, std::string("usage: trellis ") + cmd->path + (*cmd->operands ? " " : "") +
                     cmd->operands + " (see --help)");

  std::vector<Host> hosts;
  for (const auto& h : p.all("host")) hosts.push_back(parse_host(h));
  if (hosts.empty()) hosts.push_back(parse_host("http://127.0.0.1:9094"));
  auto timeout = parse_duration(p.get("timeout").value_or("30s"), "--timeout");
  if (timeout.count() == 0) timeout = std::chrono::hours(24 * 365);
  auto auth = p.get("basic-auth");
  if (auth && auth->find(':') == std::string::npos)
    fail(kUsage, "--basic-auth: expected USER:PASSWORD");

  Client client(std::move(hosts), auth, timeout, !p.has("no-check-certificate"));
  Context cx{client, p, p.has("json")};
  return cmd->run(cx);
}

}  // namespace
}  // namespace trellis::cli

int main(int argc, char** argv) {
  using namespace trellis::cli;
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    return run(args);
  } catch (const Failure& f) {
    std::cout.flush();
    std::cerr << "trellis: " << f.message << "\n";
    return f.code;
  } catch (const std::exception& e) {
    std::cout.flush();
    std::cerr << "trellis: " << e.what() << "\n";
    return kApiError;
  }
}
