#include "pinning/monitor.h"

#include <algorithm>
#include <set>

#include "crdt/pack.h"

namespace trellis::pinning {

namespace {

constexpr uint64_t kMaxTtlMs = 24ull * 3600 * 1000;

Result<uint64_t> to_u64(std::string_view v) {
  uint64_t n = 0;
  if (v.empty() || v.size() > 20) return invalid("not a number");
  for (char c : v) {
    if (c < '0' || c > '9') return invalid("not a number");
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

}  // namespace

Bytes encode_metrics(std::span<const Metric> metrics) {
  msgpack::sbuffer buf;
  pack::Packer pk(buf);
  pk.pack_array(static_cast<uint32_t>(metrics.size()));
  for (const auto& m : metrics) {
    pk.pack_array(3);
    pack::str(pk, m.name);
    pack::str(pk, m.value);
    pk.pack_uint64(m.ttl_ms);
  }
  return pack::to_bytes(buf);
}

Result<std::vector<Metric>> decode_metrics(ByteView bytes) {
  msgpack::unpack_limit limit(kMaxMetrics, 0, kMaxMetricValue, 0, 0, 2);
  return pack::decode(bytes, limit, "metrics", [](const msgpack::object& root)
                                                   -> Result<std::vector<Metric>> {
    auto top = pack::array(root, "metrics");
    if (!top) return top.status();
    std::vector<Metric> out;
    for (uint32_t i = 0; i < (*top)->size; i++) {
      auto f = pack::array((*top)->ptr[i], "metric", 3);
      if (!f) return f.status();
      auto name = pack::as_str((*f)->ptr[0], "metric name");
      if (!name) return name.status();
      auto value = pack::as_str((*f)->ptr[1], "metric value");
      if (!value) return value.status();
      auto ttl = pack::as_uint((*f)->ptr[2], "metric ttl");
      if (!ttl) return ttl.status();
      if (name->empty() || name->size() > kMaxMetricName)
        return corrupt("metric name is empty or longer than " + std::to_string(kMaxMetricName));
      if (*ttl == 0 || *ttl > kMaxTtlMs) return corrupt("metric ttl is 0 or over a day");
      out.push_back({std::string(*name), std::string(*value), *ttl});
    }
    return out;
  });
}

void Monitor::on_metrics(const std::string& peer, std::span<const Metric> metrics,
                         Clock::time_point now) {
  auto it = peers_.find(peer);
  if (it == peers_.end()) {
    if (peers_.size() >= kMaxMonitoredPeers) {
      // Forget the peer heard from longest ago.
      auto oldest = std::min_element(peers_.begin(), peers_.end(), [](const auto& a, const auto& b) {
        return a.second.last_heard < b.second.last_heard;
      });
      peers_.erase(oldest);
    }
    it = peers_.emplace(peer, PeerState{{}, PhiDetector(opts_.phi), {}, {}}).first;
  }
  PeerState& st = it->second;
  st.last_heard = now;
  for (const auto& m : metrics) {
    auto& window = st.metrics[m.name];
    window.push_back({m.value, now, now + std::chrono::milliseconds(m.ttl_ms),
                      std::chrono::system_clock::now()});
    while (window.size() > kWindow) window.pop_front();
    if (m.name == "ping") {
      st.detector.heartbeat(now);
      st.last_ping = now;
    }
  }
  // A peer publishing more metric names than one message holds is bounded
  // too: keep at most kMaxMetrics names.
  while (st.metrics.size() > kMaxMetrics) st.metrics.erase(std::prev(st.metrics.end()));
}

bool Monitor::alive(const std::string& peer, Clock::time_point now) const {
  auto it = peers_.find(peer);
  if (it == peers_.end() || !it->second.detector.monitoring()) return false;
  return it->second.detector.available(now, opts_.phi_threshold);
}

double Monitor::phi(const std::string& peer, Clock::time_point now) const {
  auto it = peers_.find(peer);
  return it == peers_.end() ? 0.0 : it->second.detector.phi(now);
}

std::optional<Monitor::Clock::duration> Monitor::down_for(const std::string& peer,
                                                          Clock::time_point now) const {
  auto it = peers_.find(peer);
  if (it == peers_.end() || !it->second.detector.monitoring() || alive(peer, now))
    return std::nullopt;
  return now - it->second.last_ping;
}

std::vector<PeerMetrics> Monitor::candidates(Clock::time_point now) const {
  std::vector<PeerMetrics> out;
  for (const auto& [peer, st] : peers_) {
    if (!alive(peer, now)) continue;
    auto fs = st.metrics.find("freespace");
    if (fs == st.metrics.end() || fs->second.empty() || fs->second.back().expires <= now) continue;
    auto bytes = to_u64(fs->second.back().value);
    if (!bytes) continue;
    PeerMetrics pm;
    pm.peer = peer;
    pm.freespace = *bytes;
    for (const auto& [name, window] : st.metrics) {
      if (window.empty() || window.back().expires <= now) continue;
      if (name.starts_with("tag:")) pm.tags[name.substr(4)] = window.back().value;
      if (name == "pinqueue")
        if (auto q = to_u64(window.back().value)) pm.pinqueue = *q;
    }
    out.push_back(std::move(pm));
  }
  return out;
}

std::vector<std::string> Monitor::peers() const {
  std::vector<std::string> out;
  for (const auto& [peer, st] : peers_) out.push_back(peer);
  return out;
}

std::vector<std::string> Monitor::names() const {
  std::set<std::string> out;
  for (const auto& [peer, st] : peers_)
    for (const auto& [name, window] : st.metrics) out.insert(name);
  return {out.begin(), out.end()};
}

std::vector<Reading> Monitor::history(const std::string& peer, const std::string& name) const {
  auto it = peers_.find(peer);
  if (it == peers_.end()) return {};
  auto m = it->second.metrics.find(name);
  if (m == it->second.metrics.end()) return {};
  return {m->second.begin(), m->second.end()};
}

std::map<std::string, Reading> Monitor::latest(const std::string& name,
                                               Clock::time_point now) const {
  std::map<std::string, Reading> out;
  for (const auto& [peer, st] : peers_) {
    auto m = st.metrics.find(name);
    if (m != st.metrics.end() && !m->second.empty() && m->second.back().expires > now)
      out.emplace(peer, m->second.back());
  }
  return out;
}

}  // namespace trellis::pinning
