#include "net/peerstore.h"

#include "crdt/files.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <tuple>

namespace trellis::net {

namespace {

using std::chrono::milliseconds;
using Json = nlohmann::json;

constexpr int kFileVersion = 1;
// Largest last_seen accepted from a file: year ~10000 in Unix milliseconds,
// far below where time_point arithmetic could overflow.
constexpr uint64_t kMaxUnixMs = 253402300800000;

uint64_t to_unix_ms(WallTime t) {
  if (t <= WallTime{}) return 0;
  return static_cast<uint64_t>(
      std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count());
}

WallTime from_unix_ms(uint64_t ms) {
  return WallTime{} +
         std::chrono::duration_cast<WallClock::duration>(milliseconds(static_cast<int64_t>(ms)));
}

bool usable(const Multiaddr& a, const PeerId& id) {
  return a.is_dialable() && (!a.has_peer() || a.peer == id);
}

// Merges `in` (already checked, /p2p stripped) into `have`: in front of the
// known addresses, or only into free slots after them.
bool merge_addrs(std::vector<Multiaddr>& have, const std::vector<Multiaddr>& in, bool in_front,
                 size_t max) {
  const std::vector<Multiaddr> before = have;
  std::vector<Multiaddr> out;
  auto push = [&](const Multiaddr& a) {
    if (out.size() < max && std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  };
  if (in_front) {
    for (const auto& a : in) push(a);
    for (const auto& a : have) push(a);
  } else {
    for (const auto& a : have) push(a);
    for (const auto& a : in) push(a);
  }
  have = std::move(out);
  return have != before;
}

}  // namespace

const char* source_name(PeerSource s) {
  switch (s) {
    case PeerSource::exchange:
      return "exchange";
    case PeerSource::inbound:
      return "inbound";
    case PeerSource::bootstrap:
      return "bootstrap";
  }
  return "?";
}

PeerStore::PeerStore(PeerId self, PeerStoreOptions options)
    : self_(std::move(self)), options_(options), rng_(options.seed) {}

milliseconds PeerStore::backoff(const PeerStoreOptions& o, uint32_t failures,
                                std::mt19937_64& rng) {
  const int64_t base = std::max<int64_t>(o.backoff_base.count(), 0);
  const int64_t max = std::max<int64_t>(o.backoff_max.count(), base);
  const uint32_t doublings = failures == 0 ? 0 : failures - 1;
  // base·2^doublings, capped; the shift happens only when it stays ≤ max.
  int64_t ceiling = max;
  if (doublings < 62 && base <= (max >> doublings)) ceiling = base << doublings;
  std::uniform_int_distribution<int64_t> pick(ceiling / 2, ceiling);
  return milliseconds(pick(rng));
}

PeerRecord* PeerStore::find_mut(const PeerId& id) {
  auto it = peers_.find(id);
  return it == peers_.end() ? nullptr : &it->second;
}

const PeerRecord* PeerStore::find(const PeerId& id) const {
  auto it = peers_.find(id);
  return it == peers_.end() ? nullptr : &it->second;
}

// Frees one slot if the store is full. Linear in the number of peers, which
// is bounded (1,000) and only paid when a new peer arrives at the cap.
bool PeerStore::make_room() {
  if (peers_.size() < options_.max_peers) return true;
  auto victim = peers_.end();
  for (auto it = peers_.begin(); it != peers_.end(); ++it) {
    const PeerRecord& r = it->second;
    if (r.source == PeerSource::bootstrap || r.state != PeerRecord::State::idle) continue;
    if (victim == peers_.end() ||
        std::tie(r.last_seen, r.added) < std::tie(victim->second.last_seen, victim->second.added)) {
      victim = it;
    }
  }
  if (victim == peers_.end()) return false;
  peers_.erase(victim);
  return true;
}

Status PeerStore::add(const PeerId& id, std::span<const Multiaddr> addrs, PeerSource source,
                      WallTime now) {
  if (id.is_empty()) return invalid("peer ID is empty");
  if (id == self_) return invalid("refusing to store this node's own peer ID");
  std::vector<Multiaddr> clean;
  for (const auto& a : addrs) {
    if (!a.is_dialable()) return invalid("address " + a.to_string() + " cannot be dialed");
    if (a.has_peer() && a.peer != id) {
      return invalid("address " + a.to_string() + " names another peer than " + id.to_string());
    }
    clean.push_back(a.without_peer());
  }
  const bool authoritative = source != PeerSource::exchange;
  if (PeerRecord* r = find_mut(id)) {
    r->source = std::max(r->source, source);
    merge_addrs(r->addrs, clean, authoritative, options_.max_addrs);
    return Status::ok();
  }
  if (!make_room()) {
    return too_large("peer store is full (" + std::to_string(options_.max_peers) +
                     " peers, none evictable); not adding " + id.to_string());
  }
  PeerRecord r;
  r.id = id;
  r.source = source;
  r.added = now;
  r.next_dial = now;
  merge_addrs(r.addrs, clean, true, options_.max_addrs);
  peers_.emplace(id, std::move(r));
  return Status::ok();
}

bool PeerStore::forget(const PeerId& id) {
  return peers_.erase(id) > 0;
}

void PeerStore::record_success(const PeerId& id, WallTime now, const Multiaddr* via) {
  PeerRecord* r = find_mut(id);
  if (!r) return;
  r->state = PeerRecord::State::connected;
  r->connected_since = now;
  r->last_seen = now;
  if (via && usable(*via, id))
    merge_addrs(r->addrs, {via->without_peer()}, true, options_.max_addrs);
}

void PeerStore::back_off(PeerRecord& r, WallTime now) {
  if (r.failures < UINT32_MAX) ++r.failures;
  const bool known = r.source == PeerSource::bootstrap ||
                     (r.last_seen > WallTime{} && now - r.last_seen <= options_.known_for);
  PeerStoreOptions o = options_;
  if (known) o.backoff_max = std::min(o.backoff_max, o.backoff_max_known);
  r.next_dial = now + backoff(o, r.failures, rng_);
  r.state = PeerRecord::State::idle;
}

std::optional<WallTime> PeerStore::record_failure(const PeerId& id, WallTime now) {
  PeerRecord* r = find_mut(id);
  if (!r) return std::nullopt;
  back_off(*r, now);
  return r->next_dial;
}

void PeerStore::record_disconnect(const PeerId& id, WallTime now) {
  PeerRecord* r = find_mut(id);
  if (!r || r->state != PeerRecord::State::connected) return;
  r->last_seen = now;
  if (now - r->connected_since >= options_.stable_after) {
    r->failures = 0;
    r->next_dial = now;
    r->state = PeerRecord::State::idle;
  } else {
    back_off(*r, now);
  }
}

std::vector<DialTarget> PeerStore::due(WallTime now, size_t limit) {
  std::vector<PeerRecord*> ready;
  for (auto& [id, r] : peers_) {
    if (r.state != PeerRecord::State::idle || r.addrs.empty()) continue;
    if (r.next_dial > now + options_.backoff_max) r.next_dial = now;  // clock stepped back
    if (r.next_dial <= now) ready.push_back(&r);
  }
  const size_t n = std::min(limit, ready.size());
  // Longest-waiting first; bootstrap peers first among equals.
  std::partial_sort(ready.begin(), ready.begin() + static_cast<std::ptrdiff_t>(n), ready.end(),
                    [](const PeerRecord* a, const PeerRecord* b) {
                      if (a->next_dial != b->next_dial) return a->next_dial < b->next_dial;
                      return a->source > b->source;
                    });
  std::vector<DialTarget> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    ready[i]->state = PeerRecord::State::dialing;
    out.push_back({ready[i]->id, ready[i]->addrs});
  }
  return out;
}

std::vector<ExchangeEntry> PeerStore::exchange_snapshot(const PeerId& requester) {
  // Only peers we have reached ourselves: passing on hearsay would let one
  // bad entry spread through the whole cluster.
  std::vector<const PeerRecord*> pool;
  for (const auto& [id, r] : peers_) {
    if (id != requester && !r.addrs.empty() && r.last_seen > WallTime{}) pool.push_back(&r);
  }
  const size_t n = std::min(options_.max_exchange, pool.size());
  for (size_t i = 0; i < n; ++i) {  // partial Fisher-Yates
    std::uniform_int_distribution<size_t> pick(i, pool.size() - 1);
    std::swap(pool[i], pool[pick(rng_)]);
  }
  std::vector<ExchangeEntry> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back({pool[i]->id, pool[i]->addrs});
  return out;
}

MergeCounts PeerStore::merge_exchange(const PeerId& from, std::span<const ExchangeEntry> entries,
                                      WallTime now) {
  MergeCounts counts;
  for (size_t i = 0; i < entries.size(); ++i) {
    const ExchangeEntry& e = entries[i];
    if (i >= options_.max_exchange || e.id.is_empty() || e.id == self_ || e.id == from) {
      ++counts.ignored;
      continue;
    }
    std::vector<Multiaddr> clean;
    for (size_t j = 0; j < e.addrs.size() && j < options_.max_addrs; ++j) {
      if (usable(e.addrs[j], e.id)) clean.push_back(e.addrs[j].without_peer());
    }
    if (clean.empty()) {
      ++counts.ignored;
      continue;
    }
    if (PeerRecord* r = find_mut(e.id)) {
      if (merge_addrs(r->addrs, clean, false, options_.max_addrs)) ++counts.updated;
      continue;
    }
    if (add(e.id, clean, PeerSource::exchange, now)) {
      ++counts.added;
    } else {
      ++counts.ignored;
    }
  }
  return counts;
}

Status PeerStore::save(const std::string& path) const {
  Json peers = Json::array();
  for (const auto& [id, r] : peers_) {
    Json addrs = Json::array();
    for (const auto& a : r.addrs) addrs.push_back(a.to_string());
    peers.push_back({{"id", id.to_string()},
                     {"addrs", std::move(addrs)},
                     {"source", source_name(r.source)},
                     {"last_seen_unix_ms", to_unix_ms(r.last_seen)},
                     {"failures", r.failures}});
  }
  std::string text;
  try {  // dump() throws only on invalid UTF-8, which IDs and addresses cannot hold
    text = Json{{"version", kFileVersion}, {"peers", std::move(peers)}}.dump(2) + "\n";
  } catch (const std::exception& e) {
    return Status(Code::invalid_argument, std::string("cannot write peer store: ") + e.what());
  }

  return write_file_atomic(path, text, 0644);
}

namespace {

// One file entry, checked. `where` is "peers[3]" for messages.
Result<PeerRecord> parse_entry(const Json& e, const std::string& where, size_t max_addrs,
                               WallTime now) {
  if (!e.is_object()) return corrupt(where + " is not an object");
  auto field = [&](const char* name) -> const Json* {
    auto it = e.find(name);
    return it == e.end() ? nullptr : &*it;
  };
  PeerRecord r;
  const Json* id = field("id");
  if (!id || !id->is_string()) return corrupt(where + ".id is missing or not a string");
  auto pid = PeerId::parse(id->get_ref<const std::string&>());
  if (!pid) return corrupt(where + ".id: " + pid.status().message());
  r.id = *pid;

  const Json* addrs = field("addrs");
  if (!addrs || !addrs->is_array()) return corrupt(where + ".addrs is missing or not an array");
  for (size_t j = 0; j < addrs->size(); ++j) {
    const std::string at = where + ".addrs[" + std::to_string(j) + "]";
    const Json& a = (*addrs)[j];
    if (!a.is_string()) return corrupt(at + " is not a string");
    auto ma = Multiaddr::parse(a.get_ref<const std::string&>());
    if (!ma) return corrupt(at + ": " + ma.status().message());
    if (!usable(*ma, r.id)) return corrupt(at + ": " + ma->to_string() + " is not dialable");
    // A smaller max_addrs than when the file was written: keep the best.
    if (r.addrs.size() < max_addrs) r.addrs.push_back(ma->without_peer());
  }

  const Json* source = field("source");
  if (!source || !source->is_string()) return corrupt(where + ".source is missing or not a string");
  const auto& s = source->get_ref<const std::string&>();
  if (s == "inbound") {
    r.source = PeerSource::inbound;
  } else if (s == "exchange" || s == "bootstrap") {
    r.source = PeerSource::exchange;  // see load(): the config decides bootstrap
  } else {
    return corrupt(where + ".source \"" + s.substr(0, 32) +
                   "\" is not one of bootstrap, exchange, inbound");
  }

  const Json* seen = field("last_seen_unix_ms");
  if (!seen || !seen->is_number_unsigned() || seen->get<uint64_t>() > kMaxUnixMs) {
    return corrupt(where + ".last_seen_unix_ms is missing or not a Unix time in milliseconds");
  }
  r.last_seen = from_unix_ms(seen->get<uint64_t>());

  const Json* failures = field("failures");
  if (!failures || !failures->is_number_unsigned() || failures->get<uint64_t>() > UINT32_MAX) {
    return corrupt(where + ".failures is missing or not a count");
  }
  r.failures = static_cast<uint32_t>(failures->get<uint64_t>());
  r.added = now;
  r.next_dial = now;
  return r;
}

}  // namespace

Status PeerStore::load(const std::string& path, WallTime now) {
  auto text = read_file(path, kMaxPeerStoreFile);
  if (!text) return text.status();
  const std::string what = "peer store file '" + path + "'";
  Json root;
  try {
    root = Json::parse(*text);
  } catch (const std::exception& e) {
    return corrupt(what + " is not valid JSON: " + e.what());
  }
  if (!root.is_object()) return corrupt(what + " is not a JSON object");
  auto version = root.find("version");
  if (version == root.end() || !version->is_number_integer()) {
    return corrupt(what + " has no version number");
  }
  if (*version != kFileVersion) {
    return Status(Code::unsupported,
                  what + " has version " + version->dump() + "; this build reads version 1");
  }
  auto list = root.find("peers");
  if (list == root.end() || !list->is_array()) return corrupt(what + " has no \"peers\" array");

  std::map<PeerId, PeerRecord> loaded;
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string where = "peers[" + std::to_string(i) + "]";
    auto r = parse_entry((*list)[i], where, options_.max_addrs, now);
    if (!r) return corrupt(what + ": " + r.status().message());
    if (r->id == self_) continue;  // harmless; never store ourselves
    const PeerId id = r->id;
    if (!loaded.emplace(id, std::move(*r)).second) {
      return corrupt(what + ": " + where + " repeats peer " + id.to_string());
    }
  }
  // A smaller max_peers than when the file was written: keep the most
  // recently seen.
  std::vector<PeerRecord*> order;
  for (auto& [id, r] : loaded) order.push_back(&r);
  std::stable_sort(order.begin(), order.end(), [](const PeerRecord* a, const PeerRecord* b) {
    return a->last_seen > b->last_seen;
  });
  peers_.clear();
  for (size_t i = 0; i < order.size() && i < options_.max_peers; ++i) {
    const PeerId id = order[i]->id;
    peers_.emplace(id, std::move(*order[i]));
  }
  return Status::ok();
}

}  // namespace trellis::net
