// trellisd: a Trellis peer. It replicates the cluster's state between peers
// and makes the local IPFS daemon pin what the state allocates to it; the
// HTTP APIs come later.
#include <sys/stat.h>

#include <boost/asio/signal_set.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/data_lock.h"
#include "daemon/follower_config.h"
#include "daemon/service.h"
#include "daemon/state_commands.h"

namespace {

using namespace trellis;

const char* kUsage = R"(trellisd — a Trellis peer

Usage:
  trellisd init [--dir DIR] [--listen ADDR]... [--bootstrap ADDR]... [--peers ADDR,ADDR]
                [--secret HEX] [--rebroadcast-ms N] [--no-sync] [--ipfs-api ADDR]
                [--name CLUSTER] [--trusted PEER,PEER|*] [--follower]
      Creates DIR (default ~/.trellis): a new identity, a config with a new
      cluster secret (or the one given: every member needs the same), the
      listen addresses (default /ip4/0.0.0.0/tcp/9096) and bootstrap peers
      (/ip4/A.B.C.D/tcp/PORT/p2p/12D3KooW…) and the IPFS API address
      (default /ip4/127.0.0.1/tcp/5001; "" for no pinning). Refuses to
      overwrite. --peers is a comma-separated --bootstrap. --trusted lists
      the peers whose writes count (default *: everyone; this peer always
      trusts itself); --follower makes a read-only follower. Every setting is
      in DIR/config.json (docs/config.md); TRELLIS_<SECTION>_<FIELD>
      environment variables override it, e.g. TRELLIS_IPFS_API.
  trellisd daemon [--dir DIR]       (also: trellisd run)
      Runs the peer until SIGINT/SIGTERM. Prints its peer ID and addresses.
      Holds DIR/lock: one daemon per data folder.
  trellisd ctl [--dir DIR] COMMAND...
      Sends a command to the running peer and prints its JSON reply:
      info | heads | get KEY | put KEY VALUE | del KEY | load N PREFIX [BATCH]
      pin CID [name=NAME] [mode=recursive|direct] [replication=N] [min=N] [max=N]
          [allocations=PEER,...] [expire-in=30m|2h|7d|SECONDS] [meta-KEY=VALUE]
          [pin-update=OLDCID] [origins=MULTIADDR,...]
      unpin CID | status [CID] | recover [CID]
      Pinning needs an IPFS daemon at ipfs.api (config.json, default
      /ip4/127.0.0.1/tcp/5001); replication -1 pins on every peer.
  trellisd id [--dir DIR]
      Prints the peer ID.
  trellisd state export [--dir DIR] [-o FILE]
      Writes every pin as one IPFS Cluster JSON object per line (stdout by
      default). Works while the daemon runs.
  trellisd state import [--dir DIR] FILE|-
      Adds the pins of an export to the state (daemon stopped). Checks every
      line first and writes nothing when one is bad.
  trellisd state cleanup [--dir DIR] --force
      Deletes the local state (daemon stopped); the peer syncs it again from
      the others at its next start. Needs --force.
  trellisd follower-config [--dir DIR] [--address ADDR]...
      Prints the cluster's follower configuration (name, secret, trusted
      peers, bootstrap addresses) as JSON, for followers to fetch with
      `trellis-follow NAME init URL|FILE`. Bootstrap addresses are the
      --address values, else the running daemon's listen addresses (or the
      configured ones). The secret is in it: publish it only to followers.
  trellisd version | --version
      Prints the version.
)";

int fail(const std::string& why) {
  std::fprintf(stderr, "trellisd: %s\n", why.c_str());
  return 1;
}

std::string default_dir() {
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.trellis";
}

int cmd_init(const std::string& dir, const std::vector<std::string>& args) {
  DaemonConfig cfg;
  cfg.peername = host_name();
  cfg.secret = net::ClusterSecret::generate();
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) throw std::runtime_error(a + " needs a value");
      return args[++i];
    };
    if (a == "--listen" || a == "--bootstrap" || a == "--peers") {
      const std::string v = value();
      for (size_t start = 0; start <= v.size();) {
        size_t end = a == "--peers" ? std::min(v.find(',', start), v.size()) : v.size();
        auto m = net::Multiaddr::parse(v.substr(start, end - start));
        if (!m) return fail(a + ": " + m.status().message());
        if (a != "--listen" && !m->has_peer())
          return fail(a + " " + m->to_string() + " needs /p2p/<peer ID>");
        (a == "--listen" ? cfg.listen : cfg.bootstrap).push_back(*m);
        start = end + 1;
      }
    } else if (a == "--secret") {
      auto s = net::ClusterSecret::parse_hex(value());
      if (!s) return fail("--secret: " + s.status().message());
      cfg.secret = *s;
    } else if (a == "--rebroadcast-ms") {
      cfg.rebroadcast_ms = std::stoull(value());
    } else if (a == "--name") {
      cfg.name = value();
    } else if (a == "--trusted") {
      cfg.trusted_peers.clear();
      const std::string v = value();
      for (size_t start = 0; start <= v.size();) {
        size_t end = std::min(v.find(',', start), v.size());
        std::string p = v.substr(start, end - start);
        if (p != "*" && !net::PeerId::parse(p)) return fail("--trusted: \"" + p + "\" is not a peer ID or *");
        cfg.trusted_peers.push_back(p);
        start = end + 1;
      }
    } else if (a == "--follower") {
      cfg.follower_mode = true;
    } else if (a == "--no-sync") {
      cfg.sync_writes = false;
    } else if (a == "--ipfs-api") {
      cfg.ipfs_api = value();
      if (!cfg.ipfs_api.empty() && !ipfs_endpoint(cfg.ipfs_api))
        return fail("--ipfs-api: " + ipfs_endpoint(cfg.ipfs_api).status().message());
    } else {
      return fail("unknown option " + a + " (see trellisd --help)");
    }
  }
  if (cfg.listen.empty()) cfg.listen.push_back(*net::Multiaddr::parse("/ip4/0.0.0.0/tcp/9096"));
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return fail("cannot create " + dir + ": " + std::strerror(errno));
  if (::access(config_path(dir).c_str(), F_OK) == 0 ||
      ::access(identity_path(dir).c_str(), F_OK) == 0)
    return fail(dir + " already holds a peer; refusing to overwrite it");
  auto id = net::Identity::generate();
  if (Status st = id.save(identity_path(dir)); !st) return fail(st.message());
  if (Status st = cfg.save(config_path(dir)); !st) return fail(st.message());
  std::printf("initialised %s\npeer ID %s\nsecret %s\n", dir.c_str(), id.id().to_string().c_str(),
              cfg.secret.to_hex().c_str());
  return 0;
}

int cmd_run(const std::string& dir) {
  auto lock = DataLock::acquire(dir);
  if (!lock) return fail(lock.status().message());
  net::asio::io_context io;
  Logger logger;
  auto svc = Service::open(io, dir, logger);
  if (!svc) return fail(svc.status().message());
  if (Status st = (*svc)->start(); !st) return fail(st.message());
  for (const auto& a : (*svc)->node().listen_addrs())
    std::printf("listening on %s\n", a.to_string().c_str());
  std::printf("ready %s\n", (*svc)->node().id().to_string().c_str());
  std::fflush(stdout);
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const net::error_code& ec, int sig) {
    if (ec) return;
    (*svc)->log(LogLevel::info, std::string("shutting down (") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ")");
    (*svc)->stop();
  });
  io.run();
  return 0;
}

int cmd_ctl(const std::string& dir, const std::vector<std::string>& args) {
  if (args.empty()) return fail("ctl needs a command (see trellisd --help)");
  std::string line;
  for (const auto& a : args) line += (line.empty() ? "" : " ") + a;
  auto reply = control_request(control_path(dir), line);
  if (!reply) return fail(reply.status().message());
  std::printf("%s\n", reply->c_str());
  return reply->find("\"ok\":true") != std::string::npos ? 0 : 1;
}

int cmd_export(const std::string& dir, const std::vector<std::string>& args) {
  std::FILE* out = stdout;
  std::string file;
  if (args.size() == 2 && args[0] == "-o")
    file = args[1];
  else if (!args.empty())
    return fail("state export takes [-o FILE] (see trellisd --help)");
  if (!file.empty() && !(out = std::fopen(file.c_str(), "w")))
    return fail("cannot write " + file + ": " + std::strerror(errno));
  auto n = export_state(dir, out);
  if (out != stdout && std::fclose(out) != 0 && n) return fail("cannot write " + file);
  if (!n) return fail("state export: " + n.status().message());
  std::fprintf(stderr, "exported %zu pins\n", *n);
  return 0;
}

int cmd_import(const std::string& dir, const std::vector<std::string>& args) {
  if (args.size() != 1) return fail("state import takes one FILE, or - for stdin");
  std::FILE* in = args[0] == "-" ? stdin : std::fopen(args[0].c_str(), "r");
  if (!in) return fail("cannot read " + args[0] + ": " + std::strerror(errno));
  auto n = import_state(dir, in);
  if (in != stdin) std::fclose(in);
  if (!n) return fail("state import: " + n.status().message());
  std::printf("imported %zu pins\n", *n);
  return 0;
}

int cmd_follower_config(const std::string& dir, const std::vector<std::string>& args) {
  std::vector<net::Multiaddr> addresses;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] != "--address" || i + 1 >= args.size())
      return fail("follower-config takes [--address ADDR]... (see trellisd --help)");
    auto a = net::Multiaddr::parse(args[++i]);
    if (!a) return fail("--address: " + a.status().message());
    addresses.push_back(*a);
  }
  if (addresses.empty()) {
    // The running daemon knows its bound ports (a configured port 0 does not).
    auto reply = control_request(control_path(dir), "info");
    auto info = reply ? nlohmann::json::parse(*reply, nullptr, false) : nlohmann::json();
    if (info.is_object() && info.value("ok", false))
      for (const auto& l : info["listen"])
        if (auto a = net::Multiaddr::parse(l.get<std::string>())) addresses.push_back(*a);
  }
  std::string note;
  auto fc = follower_config_of(dir, addresses, &note);
  if (!fc) return fail("follower-config: " + fc.status().message());
  std::fputs(note.c_str(), stderr);
  std::fputs(fc->to_json().c_str(), stdout);
  return 0;
}

int cmd_state(const std::string& dir, std::vector<std::string> args) {
  const std::string sub = args.empty() ? "" : args[0];
  if (!args.empty()) args.erase(args.begin());
  if (sub == "export") return cmd_export(dir, args);
  if (sub == "import") return cmd_import(dir, args);
  if (sub == "cleanup") {
    if (args != std::vector<std::string>{"--force"})
      return fail("state cleanup deletes " + state_path(dir) +
                  "; run it again with --force to confirm");
    if (Status st = cleanup_state(dir); !st) return fail("state cleanup: " + st.message());
    std::printf("removed %s; the peer syncs the state again at its next start\n",
                state_path(dir).c_str());
    return 0;
  }
  return fail("state needs export, import or cleanup (see trellisd --help)");
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::fputs(kUsage, stdout);
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "version" || args[0] == "--version") {
    std::printf("trellisd %s\n", TRELLIS_VERSION);
    return 0;
  }
  std::string cmd = args[0];
  args.erase(args.begin());
  std::string dir = default_dir();
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "--dir") {
      dir = args[i + 1];
      args.erase(args.begin() + static_cast<std::ptrdiff_t>(i), args.begin() + static_cast<std::ptrdiff_t>(i) + 2);
      break;
    }
  }
  try {
    if (cmd == "init") return cmd_init(dir, args);
    if (cmd == "daemon" || cmd == "run") return cmd_run(dir);
    if (cmd == "state") return cmd_state(dir, args);
    if (cmd == "ctl") return cmd_ctl(dir, args);
    if (cmd == "follower-config") return cmd_follower_config(dir, args);
    if (cmd == "id") {
      auto id = net::Identity::load(identity_path(dir));
      if (!id) return fail(id.status().message());
      std::printf("%s\n", id->id().to_string().c_str());
      return 0;
    }
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  return fail("unknown command " + cmd + " (see trellisd --help)");
}
