#include "daemon/peer_status.h"

#include <chrono>

#include "daemon/service.h"
#include "pinning/rfc3339.h"
#include "pinning/status.h"

namespace trellis {

using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr auto kCallTimeout = 10s;
constexpr auto kListsMaxAge = std::chrono::milliseconds(5'000);

Bytes to_bytes(const json& j) {
  std::string s = j.dump();
  return Bytes(s.begin(), s.end());
}

json parse(ByteView b) {
  return json::parse(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()), nullptr,
                     false);
}

// This peer's status of each CID, as PinInfoShort objects.
net::awaitable<Result<json>> local_statuses(Service& s, const std::vector<Cid>& cids) {
  json out = json::array();
  auto* tracker = s.tracker();
  if (!tracker) {
    for (size_t i = 0; i < cids.size(); ++i)
      out.push_back(pin_info_short(s.peername(), "undefined", "pinning is off on this peer", 0));
    co_return out;
  }
  auto lists = co_await tracker->ipfs_lists(kListsMaxAge);
  for (const auto& cid : cids) {
    auto pin = s.pins()->get(cid);
    if (!pin) co_return pin.status();
    pinning::PinInfo info;
    if (*pin) {
      info = tracker->status_in(**pin, *lists);
    } else {
      info = co_await tracker->status(cid);
    }
    out.push_back(pin_info_short(s.peername(), pinning::status_name(info.status), info.error,
                                 info.attempts));
  }
  co_return out;
}

}  // namespace

json pin_info_short(const std::string& peername, const std::string& status,
                    const std::string& error, uint32_t attempts) {
  return json{{"peername", peername}, {"status", status},     {"timestamp", pinning::format_rfc3339(pinning::unix_now_ns())},
              {"error", error},       {"attempt_count", attempts}, {"priority_pin", false}};
}

net::awaitable<json> local_id(Service& s) {
  auto& node = s.node();
  json addrs = json::array(), peers = json::array();
  for (const auto& a : node.listen_addrs()) addrs.push_back(a.to_string());
  peers.push_back(node.id().to_string());
  for (const auto& p : node.connected()) peers.push_back(p.to_string());
  json ipfs{{"addresses", json::array()}, {"error", ""}};
  if (auto* client = s.ipfs()) {
    auto id = co_await client->id();
    if (id) {
      ipfs["id"] = id->id;
      ipfs["addresses"] = id->addresses;
    } else {
      ipfs["error"] = id.status().message();
    }
  } else {
    ipfs["error"] = "pinning is off on this peer (no IPFS API configured)";
  }
  co_return json{{"id", node.id().to_string()},
                 {"addresses", addrs},
                 {"cluster_peers", peers},
                 {"cluster_peers_addresses", json::array()},
                 {"version", TRELLIS_VERSION},
                 {"commit", ""},
                 {"rpc_protocol_version", "/trellis/1.0/rpc"},
                 {"error", ""},
                 {"ipfs", ipfs},
                 {"peername", s.peername()}};
}

net::awaitable<std::vector<json>> cluster_ids(Service& s) {
  std::vector<json> out;
  out.push_back(co_await local_id(s));
  for (const auto& peer : s.node().connected()) {
    Bytes none;
    auto r = co_await s.node().call(peer, "trellis/id", std::move(none), kCallTimeout);
    json j = r ? parse(*r) : json();
    if (!j.is_object()) {
      std::string why = r ? "malformed reply" : r.status().message();
      j = json{{"id", peer.to_string()}, {"addresses", json::array()},
               {"cluster_peers", json::array()}, {"cluster_peers_addresses", json::array()},
               {"version", ""}, {"commit", ""}, {"rpc_protocol_version", ""},
               {"error", why}, {"ipfs", json{{"addresses", json::array()}, {"error", ""}}},
               {"peername", ""}};
    }
    out.push_back(std::move(j));
  }
  co_return out;
}

net::awaitable<std::vector<PeerStatuses>> remote_statuses(Service& s, std::vector<Cid> cids) {
  std::vector<PeerStatuses> out;
  json ask = json::array();
  for (const auto& c : cids) ask.push_back(c.to_string());
  Bytes body = to_bytes(json{{"cids", ask}});
  for (const auto& peer : s.node().connected()) {
    Bytes copy = body;
    auto r = co_await s.node().call(peer, "trellis/pin-status", std::move(copy), kCallTimeout);
    json j = r ? parse(*r) : json();
    PeerStatuses ps{peer.to_string(), json::array()};
    if (j.is_array() && j.size() == cids.size()) {
      ps.infos = std::move(j);
    } else {
      std::string why = r ? "malformed status reply" : r.status().message();
      for (size_t i = 0; i < cids.size(); ++i)
        ps.infos.push_back(pin_info_short("", "cluster_error", why, 0));
    }
    out.push_back(std::move(ps));
  }
  co_return out;
}

void register_peer_methods(Service& s) {
  s.node().handle("trellis/id", net::Policy::trusted,
                  [&s](net::ServerCall&) -> net::awaitable<Result<Bytes>> {
                    json id = co_await local_id(s);
                    co_return to_bytes(id);
                  });
  s.node().handle("trellis/pin-status", net::Policy::trusted,
                  [&s](net::ServerCall& call) -> net::awaitable<Result<Bytes>> {
                    json req = parse(call.body());
                    if (!req.is_object() || !req["cids"].is_array() ||
                        req["cids"].size() > kMaxStatusBatch)
                      co_return invalid("pin-status: want {\"cids\":[…]} with at most 1000 CIDs");
                    std::vector<Cid> cids;
                    for (const auto& c : req["cids"]) {
                      auto cid = c.is_string() ? Cid::parse(c.get<std::string>())
                                               : Result<Cid>(invalid("not a string"));
                      if (!cid) co_return invalid("pin-status: bad CID: " + cid.status().message());
                      cids.push_back(*cid);
                    }
                    auto infos = co_await local_statuses(s, cids);
                    if (!infos) co_return infos.status();
                    co_return to_bytes(*infos);
                  });
}

}  // namespace trellis
