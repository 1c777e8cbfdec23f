// Leaderless maintenance: who acts for a CID, re-allocation and expiry.
#include <doctest/doctest.h>

#include <map>

#include "pinning/repin.h"

using namespace trellis;
using namespace trellis::pinning;

namespace {

Cid cid_of(int i) {
  std::string s = "repin " + std::to_string(i);
  return Cid::sha256(kCodecRaw, ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}

Pin two_of(const Cid& c, std::vector<std::string> allocations) {
  Pin p;
  p.cid = c;
  p.replication_factor_min = p.replication_factor_max = 2;
  p.allocations = std::move(allocations);
  return p;
}

std::vector<PeerMetrics> live(std::initializer_list<const char*> peers) {
  std::vector<PeerMetrics> out;
  uint64_t fs = 1000;
  for (const char* p : peers) out.push_back({p, fs++, {}, 0});
  return out;
}

const AllocatorOptions kByFreespace{{"freespace"}, 100000};

}  // namespace

TEST_CASE("exactly one responsible peer per CID, whatever the order, spread evenly") {
  std::vector<std::string> peers{"12D3KooWA", "12D3KooWB", "12D3KooWC"};
  std::vector<std::string> reversed(peers.rbegin(), peers.rend());
  std::map<std::string, int> share;
  for (int i = 0; i < 3000; i++) {
    const std::string& a = responsible_peer(cid_of(i), peers);
    CHECK(a == responsible_peer(cid_of(i), reversed));
    share[a]++;
  }
  REQUIRE(share.size() == 3);
  for (const auto& [peer, n] : share) CHECK(n > 700);  // about 1000 each
  std::vector<std::string> one{"solo"};
  CHECK(responsible_peer(cid_of(1), one) == "solo");
}

TEST_CASE("a pin below min after a peer is gone is re-allocated, keeping the others") {
  Pin p = two_of(cid_of(1), {"a", "b"});
  auto gone_b = [](const std::string& peer) { return peer == "b"; };
  auto d = maintain(p, 0, gone_b, live({"a", "c"}), kByFreespace);
  REQUIRE(d.action == Action::reallocate);
  CHECK(d.pin.allocations == std::vector<std::string>{"a", "c"});
  CHECK(d.reason.find("down") != std::string::npos);
  // Nobody gone: nothing to do.
  auto none = maintain(p, 0, [](const std::string&) { return false; }, live({"a", "b", "c"}),
                       kByFreespace);
  CHECK(none.action == Action::none);
  // Not enough live peers: nothing written, the reason says why.
  auto stuck = maintain(p, 0, gone_b, live({"a"}), kByFreespace);
  CHECK(stuck.action == Action::none);
  CHECK(stuck.reason.find("not enough peers") != std::string::npos);
  // min 1, max 2: one remaining peer is enough.
  Pin loose = p;
  loose.replication_factor_min = 1;
  CHECK(maintain(loose, 0, gone_b, live({"a", "c"}), kByFreespace).action == Action::none);
  // Pins on every peer are never re-allocated.
  Pin everywhere;
  everywhere.cid = cid_of(2);
  everywhere.replication_factor_min = everywhere.replication_factor_max = -1;
  CHECK(maintain(everywhere, 0, gone_b, live({"a"}), kByFreespace).action == Action::none);
}

TEST_CASE("an expired pin is removed; one not yet expired stays") {
  Pin p = two_of(cid_of(3), {"a", "b"});
  p.expire_at = 1000;
  auto never = [](const std::string&) { return false; };
  CHECK(maintain(p, 999, never, live({"a", "b"}), kByFreespace).action == Action::none);
  auto d = maintain(p, 1000, never, live({"a", "b"}), kByFreespace);
  CHECK(d.action == Action::remove);
  CHECK(d.reason == "expired");
}
