#include "daemon/global_status.h"

#include "daemon/peer_status.h"
#include "daemon/service.h"
#include "pinning/rfc3339.h"
#include "pinning/status.h"

namespace trellis {

using json = nlohmann::json;
using namespace pinning;

json global_info(const Cid& cid, const Pin* pin, json peer_map) {
  json allocations = json::array(), origins = json::array(), metadata = json::object();
  if (pin) {
    for (const auto& a : pin->allocations) allocations.push_back(a);
    for (const auto& o : pin->origins) origins.push_back(o);
    for (const auto& [k, v] : pin->metadata) metadata[k] = v;
  }
  return json{{"cid", cid.to_string()},
              {"name", pin ? pin->name : ""},
              {"allocations", allocations},
              {"origins", origins},
              {"created", format_rfc3339(pin ? pin->timestamp : 0)},
              {"metadata", metadata},
              {"peer_map", std::move(peer_map)}};
}

// The next page of pins after the key `after` (updated).
Result<std::vector<Pin>> next_page(const PinSource& pins, std::string& after) {
  std::vector<Pin> page;
  Status st = pins.scan(
      [&](const Pin& p) {
        page.push_back(p);
        return page.size() < kPinPage;
      },
      after);
  if (!st) return st;
  if (!page.empty()) after = pin_key(page.back().cid);
  return page;
}

// Statuses of a page of pins on this peer (and, unless `local`, on every
// connected peer): one GlobalPinInfo each.
net::awaitable<std::vector<json>> page_status(Service& s, const std::vector<Pin>& page, bool local,
                                              std::shared_ptr<const Tracker::Lists> lists) {
  std::vector<json> maps(page.size(), json::object());
  std::string self = s.node().id().to_string();
  auto* tracker = s.tracker();
  for (size_t i = 0; i < page.size(); ++i) {
    PinInfo info = tracker->status_in(page[i], *lists);
    maps[i][self] = pin_info_short(s.peername(), status_name(info.status), info.error,
                                   info.attempts);
  }
  if (!local && !page.empty()) {
    std::vector<Cid> cids;
    for (const auto& p : page) cids.push_back(p.cid);
    auto remote = co_await remote_statuses(s, std::move(cids));
    for (auto& ps : remote)
      for (size_t i = 0; i < page.size(); ++i) maps[i][ps.peer] = std::move(ps.infos[i]);
  }
  std::vector<json> out;
  for (size_t i = 0; i < page.size(); ++i) out.push_back(global_info(page[i].cid, &page[i], std::move(maps[i])));
  co_return out;
}

// One CID's GlobalPinInfo (every peer "unpinned" when it is not pinned).
net::awaitable<Result<json>> cid_status(Service& s, Cid cid, bool local) {
  auto pin = s.pins()->get(cid);
  if (!pin) co_return pin.status();
  PinInfo info = co_await s.tracker()->status(cid);
  json map = json::object();
  map[s.node().id().to_string()] =
      pin_info_short(s.peername(), status_name(info.status), info.error, info.attempts);
  if (!local) {
    std::vector<Cid> one{cid};
    auto remote = co_await remote_statuses(s, std::move(one));
    for (auto& ps : remote) map[ps.peer] = std::move(ps.infos[0]);
  }
  co_return global_info(cid, *pin ? &**pin : nullptr, std::move(map));
}

}  // namespace trellis
