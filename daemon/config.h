// trellisd's data folder and config file.
//
//   DIR/identity.json   the peer's key (net::Identity, mode 0600)
//   DIR/config.json     the settings below (JSON, every field present)
//   DIR/state/          the replica's LMDB store
//   DIR/peerstore.json  known peers (net::PeerStore)
//   DIR/control.sock    the local control socket while running
#pragma once

#include <string>
#include <vector>

#include "crdt/status.h"
#include "net/identity.h"
#include "net/multiaddr.h"

namespace trellis {

struct DaemonConfig {
  std::vector<net::Multiaddr> listen;     // default /ip4/0.0.0.0/tcp/9096
  std::vector<net::Multiaddr> bootstrap;  // /ip4/…/tcp/…/p2p/12D3KooW…
  net::ClusterSecret secret;
  uint64_t rebroadcast_ms = 10'000;
  uint64_t max_connections = 64;
  bool sync_writes = true;  // fsync every commit

  // Parses config.json; unknown fields and bad values fail with the field's name.
  static Result<DaemonConfig> load(const std::string& path);
  // Writes atomically; refuses to overwrite unless `overwrite`.
  Status save(const std::string& path, bool overwrite = false) const;
};

std::string identity_path(const std::string& dir);
std::string config_path(const std::string& dir);
std::string state_path(const std::string& dir);
std::string peerstore_path(const std::string& dir);
std::string control_path(const std::string& dir);

}  // namespace trellis
