#include "daemon/rest_api.h"

#include <nlohmann/json.hpp>

#include "daemon/auth.h"
#include "daemon/peer_status.h"
#include "daemon/pin_listing.h"
#include "daemon/service.h"
#include "pinning/rfc3339.h"

namespace trellis {

using json = nlohmann::json;

namespace {

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) parts.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return parts;
}

json metric_json(const std::string& name, const std::string& peer, const pinning::Reading& r) {
  auto wall = [&](std::chrono::steady_clock::time_point t) {
    auto delta = t - r.received;
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               (r.received_wall + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                      delta))
                   .time_since_epoch())
        .count();
  };
  return json{{"name", name},
              {"peer", peer},
              {"value", r.value},
              {"expire", wall(r.expires)},
              {"valid", r.expires > std::chrono::steady_clock::now()},
              {"weight", 0},
              {"partitionable", false},
              {"received_at", wall(r.received)}};
}

}  // namespace

RestApi::RestApi(Service& service, const HttpApiConfig& config)
    : HttpApi(service, config, "restapi"),
      lister_(std::make_unique<PinLister>(PinLister::default_threads())) {}

RestApi::~RestApi() = default;

net::awaitable<void> RestApi::handle(http::Request& req, http::Responder& r) {
  const auto& creds = config_.basic_auth_credentials;
  bool exempt = req.method == "OPTIONS" || (req.method == "GET" && req.path == "/health");
  if (!creds.empty() && !exempt) {
    auto auth = http::authenticate(req.authorization, creds);
    if (!auth.user) {
      auto [message, headers] = http::unauthorized(auth);
      std::string body = http::error_json(401, message), type = "application/json";
      co_await r.reply(401, std::move(body), std::move(type), std::move(headers));
      co_return;
    }
    if (req.method == "POST" && req.path == "/token") {
      json tok{{"token", http::make_token(*auth.user, creds.at(*auth.user))}};
      co_await r.json(200, tok.dump());
      co_return;
    }
  }
  co_await route(req, r);
}

net::awaitable<void> RestApi::route(http::Request& req, http::Responder& r) {
  const auto parts = split_path(req.path);
  const std::string& m = req.method;
  auto is = [&](const char* method, std::initializer_list<const char*> path) {
    if (m != method || parts.size() != path.size()) return false;
    size_t i = 0;
    for (const char* p : path) {
      if (std::string_view(p) != "*" && parts[i] != p) return false;
      ++i;
    }
    return true;
  };
  if (is("GET", {"id"})) {
    json id = co_await local_id(service_);
    co_await r.json(200, id.dump());
  } else if (is("GET", {"version"})) {
    json version{{"version", TRELLIS_VERSION}};  // named: see http_server.h
    co_await r.json(200, version.dump());
  } else if (is("GET", {"health"})) {
    co_await r.end_ok();  // 204
  } else if (is("GET", {"peers"})) {
    auto ids = co_await cluster_ids(service_);
    for (auto& id : ids)
      if (!co_await r.item(id.dump())) co_return;
    co_await r.end_ok();
  } else if (is("DELETE", {"peers", "*"})) {
    co_await remove_peer(parts[1], r);
  } else if (is("GET", {"health", "graph"})) {
    auto ids = co_await cluster_ids(service_);
    json names = json::object(), links = json::object(), trust = json::object(),
         to_ipfs = json::object();
    for (const auto& id : ids) {
      std::string pid = id.value("id", "");
      names[pid] = id.value("peername", "");
      json peers = json::array();
      for (const auto& p : id.value("cluster_peers", json::array()))
        if (p != pid) peers.push_back(p);
      links[pid] = peers;
      trust[pid] = true;
      if (id["ipfs"].is_object() && id["ipfs"].contains("id")) to_ipfs[pid] = id["ipfs"]["id"];
    }
    json graph{{"cluster_id", service_.node().id().to_string()},
               {"id_to_peername", names},
               {"ipfs_links", json::object()},
               {"cluster_links", links},
               {"cluster_trust_links", trust},
               {"cluster_to_ipfs", to_ipfs}};
    co_await r.json(200, graph.dump());
  } else if (is("GET", {"health", "alerts"}) || is("GET", {"monitor", "metrics"}) ||
             is("GET", {"monitor", "metrics", "*"})) {
    auto* agent = service_.agent();
    json out = json::array();
    auto now = std::chrono::steady_clock::now();
    if (agent && parts[0] == "health") {
      // A peer whose pings stopped: IPFS Cluster's "ping" alert.
      for (const auto& peer : agent->monitor().peers()) {
        if (agent->monitor().alive(peer, now)) continue;
        auto h = agent->monitor().history(peer, "ping");
        if (h.empty()) continue;
        json a = metric_json("ping", peer, h.back());
        a["triggered_at"] = pinning::format_rfc3339(a["expire"].get<int64_t>());
        out.push_back(a);
      }
    } else if (agent && parts.size() == 2) {
      for (const auto& name : agent->monitor().names()) out.push_back(name);
    } else if (agent) {
      for (const auto& [peer, reading] : agent->monitor().latest(parts[2], now))
        out.push_back(metric_json(parts[2], peer, reading));
    }
    co_await r.json(200, out.dump());
  } else if (is("POST", {"token"})) {
    co_await r.error(401, "unauthorized: no basic_auth_credentials are configured");
  } else if (!parts.empty() && (parts[0] == "pins" || parts[0] == "allocations")) {
    co_await pin_routes(req, r, parts);
  } else {
    co_await r.error(404, "not found: " + req.method + " " + req.path +
                              " (see docs/rest-api.md for the routes)");
  }
}

// DELETE /peers/{id}: IPFS Cluster's "peer rm" in CRDT mode. The peer is
// forgotten (metrics, connection, peer store) and its pins re-allocated;
// if it is still running it comes back when it next connects.
net::awaitable<void> RestApi::remove_peer(std::string id, http::Responder& r) {
  if (Status st = service_.writable(); !st) co_return co_await r.error(403, st.message());
  auto peer = net::PeerId::parse(id);
  if (!peer) co_return co_await r.error(400, "error decoding peer ID: " + peer.status().message());
  net::Node& node = service_.node();
  if (*peer == node.id())
    co_return co_await r.error(400, id + " is the peer answering this request: stop trellisd on it, "
                                         "then remove it from another peer");
  PinningAgent* agent = service_.agent();
  bool known = node.is_connected(*peer) || node.peerstore().find(*peer) != nullptr ||
               (agent && agent->monitor().known(id));
  if (!known)
    co_return co_await r.error(404, "peer " + id + " is not part of the cluster (GET /peers lists them)");
  if (!agent) {
    node.forget(*peer);
    co_return co_await r.end_ok();
  }
  auto moved = agent->remove_peer(*peer);
  if (!moved) co_return co_await r.error(500, "removing " + id + ": " + moved.status().message());
  co_await r.end_ok();  // 204, as IPFS Cluster answers
}

}  // namespace trellis
