#include "pinning/repin.h"

#include <sodium.h>

#include <cstring>

namespace trellis::pinning {

namespace {

uint64_t prefix64(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; i++) v = (v << 8) | (i < n ? p[i] : 0);
  return v;
}

uint64_t peer_point(const std::string& peer) {
  uint8_t h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(h, reinterpret_cast<const uint8_t*>(peer.data()), peer.size());
  return prefix64(h, sizeof h);
}

}  // namespace

const std::string& responsible_peer(const Cid& cid, std::span<const std::string> live) {
  const Bytes& d = cid.hash().digest;
  uint64_t target = prefix64(d.data(), d.size());
  const std::string* best = &live.front();
  uint64_t best_distance = peer_point(*best) ^ target;
  for (const auto& peer : live.subspan(1)) {
    uint64_t distance = peer_point(peer) ^ target;
    if (distance < best_distance || (distance == best_distance && peer < *best)) {
      best = &peer;
      best_distance = distance;
    }
  }
  return *best;
}

Decision maintain(const Pin& pin, int64_t now, const std::function<bool(const std::string&)>& gone,
                  std::span<const PeerMetrics> candidates, const AllocatorOptions& options) {
  Decision d;
  if (pin.expire_at != 0 && pin.expire_at <= now) {
    d.action = Action::remove;
    d.reason = "expired";
    return d;
  }
  if (pin.everywhere() || pin.allocations.empty()) return d;
  std::vector<std::string> remaining;
  for (const auto& a : pin.allocations)
    if (!gone(a)) remaining.push_back(a);
  if (remaining.size() == pin.allocations.size() ||
      remaining.size() >= static_cast<size_t>(pin.replication_factor_min))
    return d;
  AllocationRequest req{pin.replication_factor_min, pin.replication_factor_max,
                        pin.user_allocations, remaining};
  auto chosen = allocate(req, candidates, options);
  if (!chosen) {
    d.reason = "cannot re-allocate " + pin.cid.to_string() + ": " + chosen.status().message();
    return d;
  }
  if (*chosen == pin.allocations) return d;
  d.action = Action::reallocate;
  d.pin = pin;
  d.pin.allocations = std::move(*chosen);
  d.reason = std::to_string(pin.allocations.size() - remaining.size()) +
             " allocated peer(s) down beyond the re-pinning delay";
  return d;
}

}  // namespace trellis::pinning
