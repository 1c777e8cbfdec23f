#include "daemon/pinsvc_api.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <queue>

#include "daemon/auth.h"
#include "daemon/global_status.h"
#include "daemon/service.h"
#include "pinning/rfc3339.h"

namespace trellis {

using json = nlohmann::json;
using namespace pinning;

namespace {

constexpr size_t kMaxLimit = 1000;

std::string failure(int status, const std::string& details) {
  const char* reason = status == 400   ? "BAD_REQUEST"
                       : status == 401 ? "UNAUTHORIZED"
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

// A Pin object of the spec from a request body.
Result<Pin> pin_of_body(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_object()) return invalid("the body must be a JSON Pin object: {\"cid\": …}");
  if (!j["cid"].is_string()) return invalid("pin.cid is missing");
  auto cid = Cid::parse(j["cid"].get<std::string>());
  if (!cid) return invalid("pin.cid: " + cid.status().message());
  Pin p;
  p.cid = *cid;
  if (j.contains("name")) {
    if (!j["name"].is_string() || j["name"].get<std::string>().size() > 255)
      return invalid("pin.name must be a string of at most 255 characters");
    p.name = j["name"].get<std::string>();
  }
  if (j.contains("origins")) {
    if (!j["origins"].is_array() || j["origins"].size() > 20)
      return invalid("pin.origins must be a list of at most 20 multiaddrs");
    for (const auto& o : j["origins"]) {
      if (!o.is_string()) return invalid("pin.origins must hold strings");
      p.origins.push_back(o.get<std::string>());
    }
  }
  if (j.contains("meta")) {
    if (!j["meta"].is_object()) return invalid("pin.meta must be an object of strings");
    for (const auto& [k, v] : j["meta"].items()) {
      if (!v.is_string()) return invalid("pin.meta." + k + " must be a string");
      p.metadata[k] = v.get<std::string>();
    }
  }
  return p;
}

struct Query {
  std::vector<std::string> cids, statuses;
  std::string name, match = "exact";
  int64_t before = 0, after = 0;
  size_t limit = 10;
  std::map<std::string, std::string> meta;
};

Result<Query> parse_query(const http::Request& req) {
  Query q;
  for (const auto& [k, v] : req.query) {
    if (k == "cid") {
      for (auto& c : split_commas(v)) q.cids.push_back(c);
    } else if (k == "status") {
      for (auto& s : split_commas(v)) {
        if (s != "queued" && s != "pinning" && s != "pinned" && s != "failed")
          return invalid("status \"" + s + "\" is not queued, pinning, pinned or failed");
        q.statuses.push_back(s);
      }
    } else if (k == "name") {
      q.name = v;
    } else if (k == "match") {
      if (v != "exact" && v != "iexact" && v != "partial" && v != "ipartial")
        return invalid("match must be exact, iexact, partial or ipartial");
      q.match = v;
    } else if (k == "before" || k == "after") {
      auto t = parse_rfc3339(v);
      if (!t) return invalid(k + ": " + t.status().message());
      (k == "before" ? q.before : q.after) = *t;
    } else if (k == "limit") {
      size_t n = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc() || p != v.data() + v.size() || n < 1 || n > kMaxLimit)
        return invalid("limit must be 1 to 1000");
      q.limit = n;
    } else if (k == "meta") {
      json m = json::parse(v, nullptr, false);
      if (!m.is_object()) return invalid("meta must be a JSON object of strings");
      for (const auto& [mk, mv] : m.items()) {
        if (!mv.is_string()) return invalid("meta." + mk + " must be a string");
        q.meta[mk] = mv.get<std::string>();
      }
    } else if (k.starts_with("meta[") && k.ends_with("]") && k.size() > 6) {
      q.meta[k.substr(5, k.size() - 6)] = v;  // meta[key]=value, as clients send it
    }
  }
  return q;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool name_matches(const Query& q, const std::string& name) {
  if (q.name.empty()) return true;
  if (q.match == "exact") return name == q.name;
  if (q.match == "iexact") return lower(name) == lower(q.name);
  if (q.match == "partial") return name.find(q.name) != std::string::npos;
  return lower(name).find(lower(q.name)) != std::string::npos;
}

// Whether a pin passes the query's filters; its status is checked when
// given (the other filters first, before asking the peers).
bool wanted(const Query& q, const Pin& p, const std::string& status) {
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
  auto q = parse_query(req);
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
