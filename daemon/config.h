// trellisd's data folder and config file.
//
//   DIR/identity.json   the peer's key (net::Identity, mode 0600)
//   DIR/config.json     the settings below (JSON, every field present),
//                       in sections; docs/config.md lists them
//   DIR/lock            held by the running daemon (daemon/data_lock.h)
//   DIR/state/          the replica's LMDB store
//   DIR/peerstore.json  known peers (net::PeerStore)
//   DIR/control.sock    the local control socket while running
#pragma once

#include <map>
#include <string>
#include <vector>

#include "crdt/status.h"
#include "net/identity.h"
#include "net/multiaddr.h"

namespace trellis {

// One HTTP API's listener and limits (the REST API, the Pinning Service API).
struct HttpApiConfig {
  std::string listen;  // /ip4/A.B.C.D/tcp/PORT; "" turns the API off
  // user → password. Empty: no authentication (allowed only on loopback).
  std::map<std::string, std::string> basic_auth_credentials{};
  std::string ssl_cert_file{}, ssl_key_file{};  // both set: HTTPS
  uint64_t max_connections = 512;           // further connections get 503 and are closed
  uint64_t max_header_bytes = 16 * 1024;
  uint64_t max_body_bytes = 1 << 20;
  uint64_t read_header_timeout_ms = 5'000;  // slow-header (slowloris) guard
  uint64_t read_timeout_ms = 30'000;        // the whole request, body included
  uint64_t write_timeout_ms = 60'000;       // each write of a response (streams write many)
  uint64_t idle_timeout_ms = 60'000;        // keep-alive connection with no request

  static HttpApiConfig on(std::string addr) {
    HttpApiConfig c;
    c.listen = std::move(addr);
    return c;
  }
};

struct DaemonConfig {
  std::string name = "trellis";           // the cluster's name, for followers
  std::string peername;                   // shown by /id and the CLI; default: host name
  std::vector<net::Multiaddr> listen;     // default /ip4/0.0.0.0/tcp/9096
  std::vector<net::Multiaddr> bootstrap;  // /ip4/…/tcp/…/p2p/12D3KooW…
  net::ClusterSecret secret;
  uint64_t rebroadcast_ms = 10'000;
  uint64_t max_connections = 64;
  bool sync_writes = true;  // fsync every commit
  // Peers whose heads, metrics and trusted RPCs are accepted: peer IDs, or
  // "*" for everyone (a private cluster). Collaborative clusters list their
  // writers; everyone else can only follow.
  std::vector<std::string> trusted_peers{"*"};
  // Replicate and pin read-only: every write is refused, no block is made.
  bool follower_mode = false;

  // Pinning. The IPFS daemon's RPC API; "" runs the peer without pinning.
  std::string ipfs_api = "/ip4/127.0.0.1/tcp/5001";
  uint64_t pin_timeout_ms = 120'000;    // pin/add: longest wait without progress
  uint64_t pin_concurrency = 10;        // pin/unpin operations at once
  uint64_t recover_interval_ms = 480'000;  // automatic recover of failed pins; 0 = off
  int64_t replication_factor_min = -1;  // for pins that give none; -1 = every peer
  int64_t replication_factor_max = -1;
  uint64_t metrics_ttl_ms = 30'000;     // informers republish at half of it
  uint64_t repin_after_ms = 120'000;    // a peer down this long loses its pins
  bool repin = true;                    // leaderless re-pinning (and expiry) on
  std::map<std::string, std::string> tags;    // published as tag:NAME metrics
  std::vector<std::string> allocate_by{"tag:group", "freespace"};

  // HTTP APIs and observability.
  HttpApiConfig restapi = HttpApiConfig::on("/ip4/127.0.0.1/tcp/9094");  // IPFS Cluster's REST API
  HttpApiConfig pinsvcapi = HttpApiConfig::on("/ip4/127.0.0.1/tcp/9097");  // IPFS Pinning Service API
  std::string metrics_listen = "/ip4/127.0.0.1/tcp/8888";  // Prometheus /metrics; "" = off
  std::string log_level = "info";                          // error, warn, info, debug
  std::string log_format = "text";                         // text or json

  // Parses config.json, then applies TRELLIS_<SECTION>_<FIELD> environment
  // variables; unknown sections and fields and bad values fail with the
  // field's (or the variable's) name. Absent fields keep their defaults.
  static Result<DaemonConfig> load(const std::string& path);
  // Whether trusted_peers is "*" (everyone).
  bool trust_everyone() const;
  // Writes atomically; refuses to overwrite unless `overwrite`.
  Status save(const std::string& path, bool overwrite = false) const;
};

// This machine's host name: the default peername.
std::string host_name();

// Host and port of an /ip4|ip6/…/tcp/PORT multiaddr (the IPFS API).
Result<std::pair<std::string, uint16_t>> ipfs_endpoint(const std::string& multiaddr);

std::string identity_path(const std::string& dir);
std::string config_path(const std::string& dir);
std::string state_path(const std::string& dir);
std::string peerstore_path(const std::string& dir);
std::string control_path(const std::string& dir);

}  // namespace trellis
