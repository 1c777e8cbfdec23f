// trellis-follow NAME init URL|FILE: fetch the follower configuration and
// create the follower's folder.
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "crdt/files.h"
#include "daemon/config.h"
#include "daemon/follower_config.h"
#include "tools/cli/cli.h"
#include "tools/cli/client.h"
#include "tools/follow/follow.h"

namespace trellis::follow {

namespace {

// The text at an http(s) URL (redirects are not followed).
Result<std::string> fetch_url(const std::string& url) {
  const size_t scheme = url.find("://") + 3;
  const size_t slash = url.find('/', scheme);
  const std::string target = slash == std::string::npos ? "/" : url.substr(slash);
  try {
    cli::Client client({cli::parse_host(url.substr(0, slash))}, std::nullopt,
                       std::chrono::seconds(30));
    auto res = client.request("GET", target);
    if (res.status != 200)
      return Status(Code::unavailable, url + " answered HTTP " + std::to_string(res.status));
    if (res.body.size() > kMaxFollowerConfigBytes) return invalid(url + " sent over 1 MiB");
    return res.body;
  } catch (const cli::Failure& f) {
    return Status(Code::unavailable, "cannot fetch " + url + ": " + f.message);
  }
}

Result<std::string> fetch(const std::string& source) {
  if (source.starts_with("http://") || source.starts_with("https://")) return fetch_url(source);
  return read_file(source, kMaxFollowerConfigBytes);
}

}  // namespace

std::string source_path(const std::string& dir) { return dir + "/source"; }

int cmd_init(const std::string& name, const std::string& dir, const std::vector<std::string>& args) {
  if (args.empty()) return fail("init needs the URL or FILE of the cluster's follower configuration");
  DaemonConfig cfg;
  cfg.peername = name + "@" + host_name();
  cfg.listen = {*net::Multiaddr::parse("/ip4/0.0.0.0/tcp/0")};
  for (size_t i = 1; i < args.size(); i += 2) {
    if (i + 1 >= args.size() || (args[i] != "--ipfs-api" && args[i] != "--listen"))
      return fail("init takes URL|FILE [--ipfs-api ADDR] [--listen ADDR] (see --help)");
    if (args[i] == "--ipfs-api") {
      if (auto ep = ipfs_endpoint(args[i + 1]); !ep && !args[i + 1].empty()) return fail("--ipfs-api: " + ep.status().message());
      cfg.ipfs_api = args[i + 1];
    } else {
      auto m = net::Multiaddr::parse(args[i + 1]);
      if (!m) return fail("--listen: " + m.status().message());
      cfg.listen = {*m};
    }
  }
  if (std::filesystem::exists(dir + "/config.json"))
    return fail(dir + " already follows a cluster; remove the folder to start over");
  auto text = fetch(args[0]);
  if (!text) return fail(text.status().message());
  auto fc = FollowerConfig::parse(*text);
  if (!fc) return fail(args[0] + " is not a follower configuration: " + fc.status().message());
  cfg.name = fc->cluster_name;
  cfg.secret = fc->secret;
  cfg.bootstrap = fc->bootstrap;
  cfg.trusted_peers.clear();
  for (const auto& p : fc->trusted_peers) cfg.trusted_peers.push_back(p.to_string());
  cfg.follower_mode = true;
  // The control socket is the follower's only API.
  cfg.restapi.listen = cfg.pinsvcapi.listen = cfg.metrics_listen = "";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || ::chmod(dir.c_str(), 0700) != 0)
    return fail("cannot create " + dir + ": " + (ec ? ec.message() : std::strerror(errno)));
  auto id = net::Identity::generate();
  if (Status st = id.save(identity_path(dir)); !st) return fail(st.message());
  if (Status st = write_file_atomic(source_path(dir), args[0] + "\n", 0600); !st) return fail(st.message());
  if (Status st = cfg.save(config_path(dir)); !st) return fail(st.message());
  std::printf("following cluster \"%s\" as %s\n  folder %s\n  peer ID %s\n  trusted peers %zu, "
              "bootstrap peers %zu\nstart it with: trellis-follow %s run\n",
              cfg.name.c_str(), name.c_str(), dir.c_str(), id.id().to_string().c_str(),
              fc->trusted_peers.size(), fc->bootstrap.size(), name.c_str());
  return kExitOk;
}

}  // namespace trellis::follow
