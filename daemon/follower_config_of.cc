// follower_config_of(): the follower configuration of a trellisd data
// folder (kept apart from the parser, which the fuzz build compiles alone).
#include <filesystem>

#include "daemon/config.h"
#include "daemon/follower_config.h"
#include "net/peerstore.h"

namespace trellis {

Result<FollowerConfig> follower_config_of(const std::string& dir,
                                          const std::vector<net::Multiaddr>& addresses,
                                          std::string* note) {
  auto cfg = DaemonConfig::load(config_path(dir));
  if (!cfg) return cfg.status();
  auto id = net::Identity::load(identity_path(dir));
  if (!id) return id.status();
  const net::PeerId self = id->id();
  FollowerConfig out;
  out.cluster_name = cfg->name;
  out.secret = cfg->secret;
  if (cfg->trust_everyone()) {
    out.trusted_peers.push_back(self);
    net::PeerStore store(self);
    if (std::filesystem::exists(peerstore_path(dir))) {
      TRELLIS_TRY(store.load(peerstore_path(dir), net::WallClock::now()));
      for (const auto& [peer, record] : store.peers()) out.trusted_peers.push_back(peer);
    }
    *note += "cluster.trusted_peers is \"*\": listing this peer and the " +
             std::to_string(out.trusted_peers.size() - 1) +
             " peers it knows as trusted; set cluster.trusted_peers to publish exactly the writers\n";
  } else {
    for (const auto& p : cfg->trusted_peers) out.trusted_peers.push_back(*net::PeerId::parse(p));
  }
  for (auto a : addresses.empty() ? cfg->listen : addresses) {
    if (a.host == "0.0.0.0") {
      *note += "listen address " + a.to_string() +
               " is given as 127.0.0.1: pass --address /ip4/PUBLIC-IP/tcp/PORT for remote followers\n";
      a.host = "127.0.0.1";
    }
    if (!a.has_peer()) a = a.with_peer(self);
    if (!a.is_dialable())
      return invalid(a.to_string() + " cannot be dialed (port 0?): pass --address /ip4/IP/tcp/PORT");
    out.bootstrap.push_back(a);
  }
  return out;
}

}  // namespace trellis
