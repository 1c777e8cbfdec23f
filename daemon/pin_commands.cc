// The control socket's pinning commands: pin, unpin, status, recover.
#include <charconv>
#include <nlohmann/json.hpp>

#include "daemon/service.h"
#include "pinning/allocator.h"
#include "pinning/rfc3339.h"

namespace trellis {

using json = nlohmann::json;
using namespace pinning;

namespace {

constexpr size_t kMaxListed = 1000;  // status lines listed in one reply

const char* kPinUsage =
    "usage: pin CID [name=NAME] [mode=recursive|direct] [replication=N] [min=N] [max=N] "
    "[allocations=PEER,PEER] [expire-in=SECONDS|30m|2h|7d] [meta-KEY=VALUE] [pin-update=CID] "
    "[origins=MULTIADDR,MULTIADDR]";

Result<int64_t> parse_int(const std::string& key, const std::string& v) {
  int64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size())
    return invalid(key + "=" + v + ": not an integer");
  return n;
}

// "90" (seconds), "90s", "30m", "2h", "7d", "1h30m" → nanoseconds.
Result<int64_t> parse_expire_in(const std::string& v) {
  bool bare = !v.empty() && v.find_first_not_of("0123456789") == std::string::npos;
  auto ns = parse_duration(bare ? v + "s" : v);
  if (!ns || *ns <= 0 || *ns > (int64_t{1} << 62))
    return invalid("expire-in=" + v + ": give a positive duration such as 3600, 30m, 2h or 7d");
  return *ns;
}

// Fills a pin request from KEY=VALUE words.
Status parse_pin_request(const std::vector<std::string>& w, Pin& p) {
  for (size_t i = 2; i < w.size(); i++) {
    auto eq = w[i].find('=');
    if (eq == std::string::npos) return invalid("\"" + w[i] + "\" is not KEY=VALUE; " + kPinUsage);
    std::string k = w[i].substr(0, eq), v = w[i].substr(eq + 1);
    if (k == "name") {
      p.name = v;
    } else if (k == "mode") {
      auto m = parse_mode(v);
      if (!m) return m.status();
      p.mode = *m;
    } else if (k == "replication" || k == "min" || k == "max") {
      auto n = parse_int(k, v);
      if (!n) return n.status();
      if (*n < -1 || *n > 1000) return invalid(k + " must be -1 (every peer) or 0 to 1000");
      if (k != "max") p.replication_factor_min = static_cast<int32_t>(*n);
      if (k != "min") p.replication_factor_max = static_cast<int32_t>(*n);
    } else if (k == "allocations") {
      p.user_allocations = split_commas(v);
    } else if (k == "expire-in") {
      auto ns = parse_expire_in(v);
      if (!ns) return ns.status();
      p.expire_at = unix_now_ns() + *ns;
    } else if (k.starts_with("meta-") && k.size() > 5) {
      p.metadata[k.substr(5)] = v;
    } else if (k == "pin-update") {
      auto c = Cid::parse(v);
      if (!c) return invalid("pin-update: " + c.status().message());
      p.pin_update = *c;
    } else if (k == "origins") {
      p.origins = split_commas(v);
    } else {
      return invalid("unknown option \"" + k + "\"; " + kPinUsage);
    }
  }
  return Status::ok();
}

json info_json(const PinInfo& i) {
  json j{{"cid", i.cid.to_string()}, {"status", status_name(i.status)}};
  if (!i.name.empty()) j["name"] = i.name;
  if (i.attempts) j["attempt_count"] = i.attempts;
  if (!i.error.empty()) j["error"] = i.error;
  return j;
}

}  // namespace

net::awaitable<Result<Pin>> Service::add_pin(Pin req) {
  if (Status st = writable(); !st) co_return st;
  if (!tracker_) co_return invalid("pinning is off on this peer: set the IPFS API address in its config");
  auto existing = pins_->get(req.cid);
  if (!existing) co_return existing.status();
  std::optional<Pin> update_from;
  if (req.pin_update) {
    auto from = pins_->get(*req.pin_update);
    if (!from) co_return from.status();
    update_from = *from;
  }
  PinDefaults defaults{static_cast<int32_t>(config_.replication_factor_min),
                       static_cast<int32_t>(config_.replication_factor_max)};
  auto p = prepare(std::move(req), *existing, update_from, defaults, unix_now_ns());
  if (!p) co_return p.status();
  if (!p->pin_update && !p->everywhere()) {
    // Live peers (this one included) with fresh metrics are the candidates.
    auto candidates = agent_->candidates();
    AllocationRequest ar{p->replication_factor_min, p->replication_factor_max,
                         p->user_allocations, *existing ? (*existing)->allocations
                                                        : std::vector<std::string>{}};
    auto chosen = allocate(ar, candidates, agent_->allocator());
    if (!chosen) co_return chosen.status();
    p->allocations = std::move(*chosen);
  }
  std::string key = pin_key(p->cid);
  Bytes value = encode_pin(*p);
  Status put = co_await writer_->put(std::move(key), std::move(value));
  if (!put) co_return put;
  co_return *p;
}

net::awaitable<Result<Pin>> Service::remove_pin(Cid cid) {
  if (Status st = writable(); !st) co_return st;
  if (!tracker_) co_return invalid("pinning is off on this peer: set the IPFS API address in its config");
  auto existing = pins_->get(cid);
  if (!existing) co_return existing.status();
  if (!*existing) co_return Status(Code::not_found, "pin is not part of the pinset");
  std::vector<GroupCommit::Write> writes;
  writes.push_back({pin_key(cid), std::nullopt});
  writes.push_back({removed_key(cid), encode_removed((*existing)->timestamp)});
  Status removed = co_await writer_->write_all(std::move(writes));
  if (!removed) co_return removed;
  co_return **existing;
}

net::awaitable<std::string> Service::pin(std::vector<std::string> w) {
  if (w.size() < 2) co_return error_reply(kPinUsage);
  auto cid = Cid::parse(w[1]);
  if (!cid) co_return error_reply("pin: " + cid.status().message());
  Pin req;
  req.cid = *cid;
  if (Status st = parse_pin_request(w, req); !st) co_return error_reply(st.message());
  auto p = co_await add_pin(std::move(req));
  if (!p) co_return error_reply(p.status().message());
  json allocations = json::array();
  for (const auto& a : p->allocations) allocations.push_back(a);
  co_return json{{"ok", true},
              {"cid", p->cid.to_string()},
              {"replication_factor_min", p->replication_factor_min},
              {"replication_factor_max", p->replication_factor_max},
              {"allocations", allocations}}
      .dump();
}

net::awaitable<std::string> Service::unpin(std::vector<std::string> w) {
  if (w.size() != 2) co_return error_reply("usage: unpin CID");
  auto cid = Cid::parse(w[1]);
  if (!cid) co_return error_reply("unpin: " + cid.status().message());
  auto removed = co_await remove_pin(*cid);
  if (!removed && removed.status().code() == Code::not_found)
    co_return error_reply(cid->to_string() + " is not pinned in the cluster");
  if (!removed) co_return error_reply(removed.status().to_string());
  co_return json{{"ok", true}, {"cid", cid->to_string()}}.dump();
}

net::awaitable<std::string> Service::pin_command(std::vector<std::string> w) {
  if (!tracker_)
    co_return error_reply("pinning is off on this peer: set ipfs.api in its config.json");
  if (w[0] == "pin") co_return co_await pin(std::move(w));
  if (w[0] == "unpin") co_return co_await unpin(std::move(w));
  std::optional<Cid> cid;
  if (w.size() == 2) {
    auto c = Cid::parse(w[1]);
    if (!c) co_return error_reply(w[0] + ": " + c.status().message());
    cid = *c;
  } else if (w.size() > 2) {
    co_return error_reply("usage: " + w[0] + " [CID]");
  }
  if (w[0] == "status" && cid) {
    PinInfo i = co_await tracker_->status(*cid);
    co_return json{{"ok", true}, {"pin", info_json(i)}}.dump();
  }
  if (w[0] == "status") {
    json counts = json::object(), listed = json::array();
    size_t n = 0;
    Status st = co_await tracker_->status_all([&](const PinInfo& i) {
      auto& c = counts[status_name(i.status)];
      c = c.is_null() ? 1 : c.get<size_t>() + 1;
      if (n++ < kMaxListed) listed.push_back(info_json(i));
      return true;
    });
    if (!st) co_return error_reply(st.to_string());
    co_return json{{"ok", true}, {"total", n}, {"counts", counts}, {"pins", listed},
                   {"truncated", n > kMaxListed}}
        .dump();
  }
  if (cid) {
    PinInfo i = co_await tracker_->recover(*cid);
    co_return json{{"ok", true}, {"pin", info_json(i)}}.dump();
  }
  auto queued = co_await tracker_->recover_all();
  if (!queued) co_return error_reply(queued.status().to_string());
  co_return json{{"ok", true}, {"queued", *queued}}.dump();
}

}  // namespace trellis
