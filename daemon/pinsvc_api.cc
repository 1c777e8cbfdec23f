#include "daemon/pinsvc_api.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <queue>

#include "daemon/auth.h"
#include "daemon/global_status.h"
#include "daemon/service.h"
#include "pinning/api_input.h"
#include "pinning/rfc3339.h"

namespace trellis {

using json = nlohmann::json;
using namespace pinning;

namespace {


std::string failure(int status, const std::string& details) {
  const char* reason = status == 400   ? "BAD_REQUEST"
                       : status == 401 ? "UNAUTHORIZED"
                       : status == 403 ? "FORBIDDEN"
                       : status == 404 ? "NOT_FOUND"
                       : status == 503 ? "SERVICE_UNAVAILABLE"
                                       : "INTERNAL_SERVER_ERROR";
  return json{{"error", {{"reason", reason}, {"details", details}}}}.dump();
}

net::awaitable<void> fail(http::Responder& r, int status, std::string details) {
  co_await r.json(status, failure(status, details));
}

// The spec's status of a pin from its GlobalPinInfo: its allocated peers
// (every peer for a pin-everywhere pin) all pinned → pinned; any error →
// failed; any pinning → pinning; otherwise queued.
std::string service_status(const json& g) {
  std::vector<std::string> seen;
  const json& alloc = g["allocations"];
  for (const auto& [peer, info] : g["peer_map"].items()) {
    bool counts = alloc.empty() ||
                  std::find(alloc.begin(), alloc.end(), json(peer)) != alloc.end();
    if (counts) seen.push_back(info.value("status", ""));
  }
  auto any = [&](std::initializer_list<const char*> names) {
    for (const auto& s : seen)
      for (const char* n : names)
        if (s == n) return true;
    return false;
  };
  if (any({"pin_error", "cluster_error", "unpin_error"})) return "failed";
  if (any({"pinning"})) return "pinning";
  if (!seen.empty() && std::all_of(seen.begin(), seen.end(), [](auto& s) { return s == "pinned"; }))
    return "pinned";
  return "queued";
}

json pin_status(const json& g, const json& delegates) {
  json pin{{"cid", g["cid"]}};
  if (!g["name"].get<std::string>().empty()) pin["name"] = g["name"];
  if (!g["origins"].empty()) pin["origins"] = g["origins"];
  if (!g["metadata"].empty()) pin["meta"] = g["metadata"];
  return json{{"requestid", g["cid"]},
              {"status", service_status(g)},
              {"created", g["created"]},
              {"pin", pin},
              {"delegates", delegates},
              {"info", json::object()}};
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool name_matches(const PinQuery& q, const std::string& name) {
  if (q.name.empty()) return true;
  if (q.match == "exact") return name == q.name;
  if (q.match == "iexact") return lower(name) == lower(q.name);
  if (q.match == "partial") return name.find(q.name) != std::string::npos;
  return lower(name).find(lower(q.name)) != std::string::npos;
}

// Whether a pin passes the query's filters; its status is checked when
// given (the other filters first, before asking the peers).
bool wanted(const PinQuery& q, const Pin& p, const std::string& status) {
  if (!q.cids.empty() && std::find(q.cids.begin(), q.cids.end(), p.cid.to_string()) == q.cids.end())
    return false;
  if (!status.empty() && !q.statuses.empty() && std::find(q.statuses.begin(), q.statuses.end(), status) == q.statuses.end())
    return false;
  if (!name_matches(q, p.name)) return false;
  if (q.before && p.timestamp >= q.before) return false;
  if (q.after && p.timestamp <= q.after) return false;
  for (const auto& [k, v] : q.meta) {
    auto it = p.metadata.find(k);
    if (it == p.metadata.end() || it->second != v) return false;
  }
  return true;
}

}  // namespace

PinSvcApi::PinSvcApi(Service& service, const HttpApiConfig& config)
    : HttpApi(service, config, "pinsvcapi") {}

net::awaitable<void> PinSvcApi::handle(http::Request& req, http::Responder& r) {
  const auto& creds = config_.basic_auth_credentials;
  const bool health = req.method == "GET" && req.path == "/health";
  if (!creds.empty() && !health) {
    auto auth = http::authenticate(req.authorization, creds);
    if (!auth.user) {
      auto [message, headers] = http::unauthorized(auth);
      std::string body = failure(401, message), type = "application/json";
      co_return co_await r.reply(401, std::move(body), std::move(type), std::move(headers));
    }
    if (req.method == "POST" && req.path == "/token") {
      json tok{{"token", http::make_token(*auth.user, creds.at(*auth.user))}};
      co_return co_await r.json(200, tok.dump());
    }
  }
  if (health) co_return co_await r.end_ok();
  if (!service_.tracker())
    co_return co_await fail(r, 503, "pinning is off on this peer: set the IPFS API address in its config");
  if (req.path == "/pins" && req.method == "GET") co_return co_await list(req, r);

  if (req.path == "/pins" && req.method == "POST") {
    auto p = pin_of_body(req.body);
    if (!p) co_return co_await fail(r, 400, p.status().message());
    Cid cid = p->cid;
    auto added = co_await service_.add_pin(std::move(*p));
    if (!added) co_return co_await fail(r, http_status(added.status()), added.status().message());
    auto g = co_await cid_status(service_, cid, true);
    if (!g) co_return co_await fail(r, 500, g.status().message());
    json delegates = co_await ipfs_addresses();
    co_return co_await r.json(202, pin_status(*g, delegates).dump());
  }
  const std::string prefix = "/pins/";
  if (!req.path.starts_with(prefix) || req.path.size() == prefix.size())
    co_return co_await fail(r, 404, "not found: " + req.method + " " + req.path);
  auto id = Cid::parse(req.path.substr(prefix.size()));
  if (!id) co_return co_await fail(r, 400, "error decoding requestid: " + id.status().message());
  auto existing = service_.pins()->get(*id);
  if (!existing) co_return co_await fail(r, 500, existing.status().message());
  if (!*existing) co_return co_await fail(r, 404, "no pin with requestid " + id->to_string());

  if (req.method == "GET") {
    auto g = co_await cid_status(service_, *id, false);
    if (!g) co_return co_await fail(r, 500, g.status().message());
    json delegates = co_await ipfs_addresses();
    co_return co_await r.json(200, pin_status(*g, delegates).dump());
  }
  if (req.method == "DELETE") {
    auto removed = co_await service_.remove_pin(*id);
    if (!removed) co_return co_await fail(r, http_status(removed.status()), removed.status().message());
    std::string none, type;
    co_return co_await r.reply(202, std::move(none), std::move(type), http::Headers());
  }
  if (req.method == "POST") {  // replace: pin the new CID in place of the old
    auto p = pin_of_body(req.body);
    if (!p) co_return co_await fail(r, 400, p.status().message());
    Cid cid = p->cid;
    if (cid != *id) p->pin_update = *id;
    auto added = co_await service_.add_pin(std::move(*p));
    if (!added) co_return co_await fail(r, http_status(added.status()), added.status().message());
    if (cid != *id) {
      auto removed = co_await service_.remove_pin(*id);
      if (!removed) co_return co_await fail(r, 500, removed.status().message());
    }
    auto g = co_await cid_status(service_, cid, true);
    if (!g) co_return co_await fail(r, 500, g.status().message());
    json delegates = co_await ipfs_addresses();
    co_return co_await r.json(202, pin_status(*g, delegates).dump());
  }
  co_await fail(r, 405, "method " + req.method + " is not allowed on " + req.path);
}

// The delegates of a PinStatus: this peer's IPFS addresses ([] when IPFS
// does not answer). Asked only when a PinStatus is sent.
net::awaitable<json> PinSvcApi::ipfs_addresses() {
  json out = json::array();
  if (auto* ipfs = service_.ipfs())
    if (auto id = co_await ipfs->id()) out = id->addresses;
  co_return out;
}

// GET /pins: every pin that passes the filters is counted; the newest
// `limit` are kept (a bounded heap, whatever the pinset's size) and returned
// newest first.
net::awaitable<void> PinSvcApi::list(http::Request& req, http::Responder& r) {
  auto q = parse_pin_query(req.query);
  if (!q) co_return co_await fail(r, 400, q.status().message());
  json delegates = co_await ipfs_addresses();
  using Entry = std::pair<int64_t, json>;  // created, PinStatus
  auto newer = [](const Entry& a, const Entry& b) { return a.first > b.first; };
  std::priority_queue<Entry, std::vector<Entry>, decltype(newer)> top(newer);
  size_t count = 0;
  auto lists = co_await service_.tracker()->ipfs_lists(std::chrono::milliseconds(0));
  std::string after;
  for (;;) {
    auto page = next_page(*service_.pins(), after);
    if (!page) co_return co_await fail(r, 500, page.status().message());
    if (page->empty()) break;
    std::vector<Pin> keep;
    for (auto& p : *page)
      if (wanted(*q, p, "")) keep.push_back(std::move(p));
    if (keep.empty()) continue;
    auto infos = co_await page_status(service_, keep, false, lists);
    for (size_t i = 0; i < keep.size(); ++i) {
      json st = pin_status(infos[i], delegates);
      if (!wanted(*q, keep[i], st["status"].get<std::string>())) continue;
      ++count;
      top.emplace(keep[i].timestamp, std::move(st));
      if (top.size() > q->limit) top.pop();
    }
  }
  json results = json::array();
  for (; !top.empty(); top.pop()) results.push_back(top.top().second);
  std::reverse(results.begin(), results.end());
  json out{{"count", count}, {"results", results}};
  co_await r.json(200, out.dump());
}

}  // namespace trellis
