// The REST API's pin routes: /allocations, /pins and recover.
#include <charconv>
#include <nlohmann/json.hpp>

#include "daemon/global_status.h"
#include "daemon/peer_status.h"
#include "daemon/pin_listing.h"
#include "daemon/rest_api.h"
#include "daemon/service.h"
#include "pinning/pin_json.h"
#include "pinning/rfc3339.h"
#include "pinning/status.h"

namespace trellis {

using json = nlohmann::json;
using namespace pinning;

namespace {


Result<int32_t> parse_factor(const std::string& key, const std::string& v) {
  int32_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n < -1 || n > 1000)
    return invalid("parameter " + key + " invalid: \"" + v + "\" (give -1 for every peer, or 0 to 1000)");
  return n;
}

// IPFS Cluster's pin options from the query string (both spellings of the
// replication factors; repeated user-allocations are joined).
Status parse_pin_options(const http::Request& req, Pin& p) {
  std::optional<int32_t> both;
  for (const auto& [k, v] : req.query) {
    if (k == "name") {
      p.name = v;
    } else if (k == "mode") {
      auto m = parse_mode(v);
      if (!m) return invalid("parameter mode invalid: \"" + v + "\" (recursive or direct)");
      p.mode = *m;
      p.max_depth = *m == Mode::direct ? 0 : -1;
    } else if (k == "replication") {
      auto n = parse_factor(k, v);
      if (!n) return n.status();
      both = *n;
    } else if (k == "replication-min" || k == "replication_factor_min") {
      auto n = parse_factor(k, v);
      if (!n) return n.status();
      p.replication_factor_min = *n;
    } else if (k == "replication-max" || k == "replication_factor_max") {
      auto n = parse_factor(k, v);
      if (!n) return n.status();
      p.replication_factor_max = *n;
    } else if (k == "user-allocations") {
      for (auto& a : split_commas(v)) p.user_allocations.push_back(a);
    } else if (k == "expire-at") {
      auto t = parse_rfc3339(v);
      if (!t) return invalid("expire-at cannot be parsed: " + t.status().message());
      p.expire_at = *t;
    } else if (k == "expire-in") {
      if (req.param("expire-at")) continue;
      auto d = parse_duration(v);
      if (!d) return invalid("expire-in cannot be parsed: " + d.status().message());
      if (*d < 1'000'000'000) return invalid("expire-in duration too short (at least 1s)");
      p.expire_at = unix_now_ns() + *d;
    } else if (k.starts_with("meta-") && k.size() > 5) {
      p.metadata[k.substr(5)] = v;
    } else if (k == "pin-update") {
      auto c = Cid::parse(v);
      if (!c) return invalid("error decoding update option parameter: " + c.status().message());
      p.pin_update = *c;
    } else if (k == "origins") {
      p.origins = split_commas(v);
    } else if (k == "shard-size" || k == "shard_size") {
      if (v != "0" && !v.empty()) return invalid("sharded pins are not supported by Trellis");
    }
    // Anything else (stream-channels, local, …) is ignored, as IPFS Cluster does.
  }
  if (both) p.replication_factor_min = p.replication_factor_max = *both;
  return Status::ok();
}

// "/pins/CID", "/pins/ipfs/CID" → the CID.
Result<Cid> cid_in(const std::vector<std::string>& parts, size_t at) {
  const std::string* s = &parts[at];
  if (*s == "ipfs" && parts.size() == at + 2) s = &parts[at + 1];
  auto c = Cid::parse(*s);
  if (!c) return invalid("error decoding Cid: " + c.status().message());
  return *c;
}

// Status filter: names and the groups "error" and "queued"; empty = all.
Result<std::vector<TrackerStatus>> parse_filter(const std::string* f) {
  std::vector<TrackerStatus> out;
  if (!f || f->empty()) return out;
  for (const auto& name : split_commas(*f)) {
    if (name == "error") {
      out.insert(out.end(), {TrackerStatus::cluster_error, TrackerStatus::pin_error,
                             TrackerStatus::unpin_error});
    } else if (name == "queued") {
      out.insert(out.end(), {TrackerStatus::pin_queued, TrackerStatus::unpin_queued});
    } else if (auto s = parse_status(name)) {
      out.push_back(*s);
    } else {
      return invalid("invalid filter value \"" + name + "\"");
    }
  }
  return out;
}

bool matches(const json& peer_map, const std::vector<TrackerStatus>& filter) {
  if (filter.empty()) return true;
  for (const auto& [peer, info] : peer_map.items())
    for (auto f : filter)
      if (info.value("status", "") == status_name(f)) return true;
  return false;
}

// Streams the pinset a page at a time: fn writes a page's items and returns
// false once the client has gone. Ends the stream (with the error, if the
// state could not be read).
using PageFn = std::function<net::awaitable<bool>(const std::vector<Pin>&)>;
net::awaitable<void> stream_pages(const PinSource& pins, http::Responder& r, PageFn fn) {
  std::string after;
  for (;;) {
    auto page = next_page(pins, after);
    if (!page) co_return co_await r.end(page.status().message(), 500);
    if (page->empty()) break;
    if (!co_await fn(*page)) co_return;
  }
  co_await r.end_ok();
}

}  // namespace

net::awaitable<void> RestApi::pin_routes(http::Request& req, http::Responder& r,
                                         const std::vector<std::string>& parts) {
  const std::string& m = req.method;
  const bool local = req.param("local") && *req.param("local") == "true";
  if (!service_.tracker()) {
    co_await r.error(503, "pinning is off on this peer: set the IPFS API address in its config");
    co_return;
  }
  const PinSource& pins = *service_.pins();

  if (parts[0] == "allocations") {
    if (m == "GET" && parts.size() == 2) {
      auto cid = cid_in(parts, 1);
      if (!cid) co_return co_await r.error(400, cid.status().message());
      auto pin = pins.get(*cid);
      if (!pin) co_return co_await r.error(500, pin.status().message());
      if (!*pin) co_return co_await r.error(404, "pin is not part of the pinset");
      co_return co_await r.json(200, pin_to_json(**pin).dump());
    }
    if (m == "GET" && parts.size() == 1) {
      const std::string* f = req.param("filter");
      if (f && !f->empty() && *f != "all" && *f != "pin" && f->find("pin") == std::string::npos)
        co_return co_await r.error(400, "invalid filter value \"" + *f +
                                            "\" (pin, meta-pin, clusterdag-pin, shard-pin, all)");
      co_return co_await lister_->write(pins, r);
    }
  }

  // /pins/recover and /pins/{cid}/recover
  if (m == "POST" && parts.size() == 2 && parts[1] == "recover") {
    auto lists = co_await service_.tracker()->ipfs_lists(std::chrono::milliseconds(0));
    co_return co_await stream_pages(pins, r, [&](const std::vector<Pin>& page) -> net::awaitable<bool> {
      for (const auto& p : page) {
        PinInfo info = service_.tracker()->status_in(p, *lists);
        if (!is_error(info.status) && info.status != TrackerStatus::unexpectedly_unpinned) continue;
        co_await service_.tracker()->recover(p.cid);
        auto g = co_await cid_status(service_, p.cid, local);
        if (g && !co_await r.item(g->dump())) co_return false;
      }
      co_return true;
    });
  }
  if (m == "POST" && parts.size() == 3 && parts[2] == "recover") {
    auto cid = cid_in(parts, 1);
    if (!cid) co_return co_await r.error(400, cid.status().message());
    co_await service_.tracker()->recover(*cid);
    auto g = co_await cid_status(service_, *cid, local);
    if (!g) co_return co_await r.error(http_status(g.status()), g.status().message());
    co_return co_await r.json(200, g->dump());
  }

  if (m == "GET" && parts.size() == 1) {  // GET /pins
    if (const std::string* list = req.param("cids"); list && !list->empty()) {
      for (const auto& s : split_commas(*list)) {
        auto cid = Cid::parse(s);
        if (!cid) co_return co_await r.end("error decoding Cid: " + cid.status().message(), 400);
        auto g = co_await cid_status(service_, *cid, local);
        if (!g) co_return co_await r.end(g.status().message(), 500);
        if (!co_await r.item(g->dump())) co_return;
      }
      co_return co_await r.end_ok();
    }
    auto filter = parse_filter(req.param("filter"));
    if (!filter) co_return co_await r.error(400, filter.status().message());
    auto lists = co_await service_.tracker()->ipfs_lists(std::chrono::milliseconds(0));
    co_return co_await stream_pages(pins, r, [&](const std::vector<Pin>& page) -> net::awaitable<bool> {
      auto infos = co_await page_status(service_, page, local, lists);
      for (const auto& g : infos)
        if (matches(g["peer_map"], *filter) && !co_await r.item(g.dump())) co_return false;
      co_return true;
    });
  }

  bool cid_path = parts.size() == 2 || (parts.size() == 3 && parts[1] == "ipfs");
  if (!cid_path) co_return co_await r.error(404, "not found: " + m + " " + req.path);
  auto cid = cid_in(parts, 1);
  if (!cid) co_return co_await r.error(400, cid.status().message());

  if (m == "GET") {
    auto g = co_await cid_status(service_, *cid, local);
    if (!g) co_return co_await r.error(http_status(g.status()), g.status().message());
    co_return co_await r.json(200, g->dump());
  }
  if (m == "POST") {
    Pin request;
    request.cid = *cid;
    if (Status st = parse_pin_options(req, request); !st)
      co_return co_await r.error(400, st.message());
    auto p = co_await service_.add_pin(std::move(request));
    if (!p) co_return co_await r.error(http_status(p.status()), p.status().message());
    co_return co_await r.json(200, pin_to_json(*p).dump());
  }
  if (m == "DELETE") {
    auto p = co_await service_.remove_pin(*cid);
    if (!p) co_return co_await r.error(http_status(p.status()), p.status().message());
    co_return co_await r.json(200, pin_to_json(*p).dump());
  }
  co_await r.error(405, "method " + m + " is not allowed on " + req.path);
}

}  // namespace trellis
