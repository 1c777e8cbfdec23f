// The balanced allocator: factors, partitions, ordering, precedence, errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "pinning/allocator.h"

using namespace trellis;
using namespace trellis::pinning;

namespace {

using Peers = std::vector<std::string>;

// A live peer; an empty group means the peer has no "group" tag.
PeerMetrics peer(std::string id, uint64_t freespace, std::string group = "",
                 uint64_t pinqueue = 0) {
  PeerMetrics m;
  m.peer = std::move(id);
  m.freespace = freespace;
  if (!group.empty()) m.tags["group"] = std::move(group);
  m.pinqueue = pinqueue;
  return m;
}

AllocationRequest factors(int32_t min, int32_t max) {
  AllocationRequest r;
  r.min = min;
  r.max = max;
  return r;
}

Peers must(const Result<Peers>& r) {
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  return *r;
}

bool unique(const Peers& p) {
  return std::set<std::string>(p.begin(), p.end()).size() == p.size();
}

}  // namespace

TEST_CASE("-1/-1 allocates everywhere: an empty list") {
  std::vector<PeerMetrics> c = {peer("a", 10), peer("b", 20)};
  CHECK(must(allocate(factors(-1, -1), c)).empty());
  CHECK(must(allocate(factors(-1, -1), {})).empty());  // even with no peers
}

TEST_CASE("bad factors and allocate_by are invalid arguments") {
  std::vector<PeerMetrics> c = {peer("a", 10)};
  for (auto [min, max] : {std::pair{0, 0}, {0, 2}, {2, 1}, {-1, 3}, {1, -1}, {-2, -2}}) {
    auto r = allocate(factors(min, max), c);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().code() == Code::invalid_argument);
    CHECK(r.status().message().find("bad replication factors") != std::string::npos);
  }
  AllocatorOptions o;
  o.allocate_by = {"tag:group", "disk"};
  auto r = allocate(factors(1, 1), c, o);
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().code() == Code::invalid_argument);
  CHECK(r.status().message().find("unknown metric name \"disk\"") != std::string::npos);
  o.allocate_by = {"tag:"};
  CHECK(allocate(factors(1, 1), c, o).status().code() == Code::invalid_argument);
  o.allocate_by = {};
  CHECK(allocate(factors(1, 1), c, o).status().code() == Code::invalid_argument);
}

TEST_CASE("freespace orders peers, most free first") {
  std::vector<PeerMetrics> c = {peer("a", 10), peer("b", 30), peer("c", 20), peer("d", 5)};
  AllocatorOptions o;
  o.allocate_by = {"freespace"};
  CHECK(must(allocate(factors(1, 1), c, o)) == Peers{"b"});
  CHECK(must(allocate(factors(1, 3), c, o)) == Peers{"b", "c", "a"});
  // The default allocate_by with no tags set: one "" group, same order.
  CHECK(must(allocate(factors(2, 2), c)) == Peers{"b", "c"});
}

TEST_CASE("min and max: fill up to max, accept anything from min") {
  std::vector<PeerMetrics> c = {peer("a", 10), peer("b", 30), peer("c", 20)};
  CHECK(must(allocate(factors(2, 3), c)).size() == 3);
  CHECK(must(allocate(factors(2, 5), c)) == Peers{"b", "c", "a"});  // all there is
  CHECK(must(allocate(factors(3, 3), c)).size() == 3);
  CHECK(must(allocate(factors(1, 2), c)).size() == 2);
}

TEST_CASE("not enough peers: unavailable, saying who and why") {
  std::vector<PeerMetrics> c = {peer("a", 10), peer("full", 0)};
  AllocationRequest r = factors(3, 4);
  r.user_allocations = {"ghost"};
  r.current = {"gone", "a"};
  auto res = allocate(r, c);
  REQUIRE_FALSE(res.is_ok());
  CHECK(res.status().code() == Code::unavailable);
  CHECK(res.status().message() ==
        "not enough peers to allocate: need 3, have 1 (live allocations: a; no free space: full; "
        "allocated but not available: gone; user allocations not available: ghost)");

  auto none = allocate(factors(1, 1), {});
  REQUIRE_FALSE(none.is_ok());
  CHECK(none.status().message() == "not enough peers to allocate: need 1, have 0 (no live peers)");

  // Long lists are cut short.
  std::vector<PeerMetrics> many;
  for (int i = 0; i < 15; ++i) many.push_back(peer("p" + std::to_string(100 + i), 1));
  auto cut = allocate(factors(20, 20), many);
  REQUIRE_FALSE(cut.is_ok());
  CHECK(cut.status().message().find("need 20, have 15 (candidates: ") != std::string::npos);
  CHECK(cut.status().message().find(" and 5 more)") != std::string::npos);
}

TEST_CASE("groups take turns, the group with most total free space first") {
  std::vector<PeerMetrics> c = {
      peer("e1", 100, "eu"), peer("e2", 90, "eu"), peer("e3", 80, "eu"),  // eu: 270
      peer("u1", 50, "us"),  peer("u2", 40, "us"),                        // us: 90
      peer("n1", 10),                                                     // no tag: ""
  };
  CHECK(must(allocate(factors(3, 3), c)) == Peers{"e1", "u1", "n1"});
  CHECK(must(allocate(factors(2, 2), c)) == Peers{"e1", "u1"});
  CHECK(must(allocate(factors(1, 6), c)) == Peers{"e1", "u1", "n1", "e2", "u2", "e3"});

  // Order is by total free space, not by name: "zz" holds the most.
  std::vector<PeerMetrics> d = {peer("a1", 5, "aa"), peer("z1", 3, "zz"), peer("z2", 3, "zz")};
  CHECK(must(allocate(factors(3, 3), d)) == Peers{"z1", "a1", "z2"});
}

TEST_CASE("a peer without the tag is a partition of its own") {
  std::vector<PeerMetrics> c = {peer("t1", 100, "g"), peer("t2", 90, "g"), peer("x", 1)};
  // x is alone in the "" partition, so it gets the second replica.
  CHECK(must(allocate(factors(2, 2), c)) == Peers{"t1", "x"});
}

TEST_CASE("nested partitions rotate at every level") {
  auto p = [](std::string id, uint64_t free, std::string region, std::string az) {
    PeerMetrics m = peer(std::move(id), free);
    m.tags["region"] = std::move(region);
    m.tags["az"] = std::move(az);
    return m;
  };
  // r1 (220): az x (150) = p1 100, p2 50; az y (70) = p3. r2 (300): az z = p4.
  std::vector<PeerMetrics> c = {p("p1", 100, "r1", "x"), p("p2", 50, "r1", "x"),
                                p("p3", 70, "r1", "y"), p("p4", 300, "r2", "z")};
  AllocatorOptions o;
  o.allocate_by = {"tag:region", "tag:az", "freespace"};
  // r2, then r1's best az, then (r2 exhausted) r1's other az, then r1's x again.
  CHECK(must(allocate(factors(4, 4), c, o)) == Peers{"p4", "p1", "p3", "p2"});
}

TEST_CASE("ties are broken by peer ID and input order does not matter") {
  std::vector<PeerMetrics> c = {peer("d", 50, "g1"), peer("b", 50, "g1"), peer("c", 50, "g2"),
                                peer("a", 50, "g2"), peer("e", 70, "g3")};
  Peers first = must(allocate(factors(5, 5), c));
  // g1 and g2 tie on 100 each: by name. Peers tie on 50: by ID.
  CHECK(first == Peers{"b", "a", "e", "d", "c"});
  std::sort(c.begin(), c.end(), [](auto& x, auto& y) { return x.peer < y.peer; });
  do {
    CHECK(must(allocate(factors(5, 5), c)) == first);
  } while (
      std::next_permutation(c.begin(), c.end(), [](auto& x, auto& y) { return x.peer < y.peer; }));
}

TEST_CASE("user allocations come first, in order, even with little free space") {
  std::vector<PeerMetrics> c = {peer("big", 1000), peer("mid", 500), peer("small", 1)};
  AllocationRequest r = factors(2, 2);
  r.user_allocations = {"small"};
  CHECK(must(allocate(r, c)) == Peers{"small", "big"});
  r.user_allocations = {"small", "mid"};
  CHECK(must(allocate(r, c)) == Peers{"small", "mid"});
  // More user allocations than max: the first ones win.
  r.user_allocations = {"mid", "small", "big"};
  CHECK(must(allocate(r, c)) == Peers{"mid", "small"});
}

TEST_CASE("a user allocation that is not a candidate is skipped") {
  std::vector<PeerMetrics> c = {peer("a", 10), peer("b", 20), peer("c", 30)};
  AllocationRequest r = factors(2, 2);
  r.user_allocations = {"down", "a"};
  CHECK(must(allocate(r, c)) == Peers{"a", "c"});
  r.user_allocations = {"down"};
  CHECK(must(allocate(r, c)) == Peers{"c", "b"});
}

TEST_CASE("re-allocation keeps live current allocations") {
  std::vector<PeerMetrics> c = {peer("a", 10), peer("b", 20), peer("c", 30), peer("d", 40)};
  AllocationRequest r = factors(3, 3);
  r.current = {"a", "dead"};  // one live, one gone: two more needed
  CHECK(must(allocate(r, c)) == Peers{"a", "d", "c"});
  // User allocations come before the balanced order for the new ones.
  r.user_allocations = {"b"};
  CHECK(must(allocate(r, c)) == Peers{"a", "b", "d"});
}

TEST_CASE("at least min live: nothing moves, dead allocations stay") {
  std::vector<PeerMetrics> c = {peer("a", 10), peer("b", 20), peer("c", 1000)};
  AllocationRequest r = factors(2, 3);
  r.current = {"a", "dead", "b"};
  CHECK(must(allocate(r, c)) == Peers{"a", "dead", "b"});
  // No room under max for the dead one.
  r = factors(2, 2);
  r.current = {"dead", "a", "b"};
  CHECK(must(allocate(r, c)) == Peers{"a", "b"});
  // More live than max (max was lowered): the first ones, in order.
  r = factors(1, 2);
  r.current = {"c", "b", "a"};
  CHECK(must(allocate(r, c)) == Peers{"c", "b"});
}

TEST_CASE("no peer is returned twice") {
  std::vector<PeerMetrics> c = {peer("a", 10), peer("a", 99), peer("b", 20), peer("c", 30),
                                peer("", 500)};
  AllocationRequest r = factors(3, 3);
  r.current = {"a", "a", ""};
  r.user_allocations = {"a", "b", "b"};
  Peers got = must(allocate(r, c));
  CHECK(got == Peers{"a", "b", "c"});
  CHECK(unique(got));
  // Duplicates in candidates count once: only three peers exist.
  auto res = allocate(factors(4, 4), c);
  REQUIRE_FALSE(res.is_ok());
  CHECK(res.status().message().find("need 4, have 3") != std::string::npos);
}

TEST_CASE("full peers are not candidates when free space is a metric") {
  std::vector<PeerMetrics> c = {peer("full", 0, "g"), peer("ok", 5, "g")};
  AllocationRequest r = factors(1, 2);
  r.current = {"full"};
  r.user_allocations = {"full"};
  CHECK(must(allocate(r, c)) == Peers{"ok"});
  AllocatorOptions tags_only;
  tags_only.allocate_by = {"tag:group"};
  CHECK(must(allocate(factors(2, 2), c, tags_only)) == Peers{"full", "ok"});
}

TEST_CASE("pinqueue deprioritises busy peers, by bucket") {
  std::vector<PeerMetrics> c = {peer("a", 100, "", 50), peer("b", 50, "", 0), peer("c", 80, "", 5)};
  AllocatorOptions o;
  o.allocate_by = {"pinqueue", "freespace"};
  o.pinqueue_bucket = 10;  // a is 5 buckets behind; b and c share bucket 0
  CHECK(must(allocate(factors(3, 3), c, o)) == Peers{"c", "b", "a"});
  o.pinqueue_bucket = 1;  // every queued item counts
  CHECK(must(allocate(factors(3, 3), c, o)) == Peers{"b", "c", "a"});
  o.pinqueue_bucket = 0;  // acts as 1
  CHECK(must(allocate(factors(3, 3), c, o)) == Peers{"b", "c", "a"});
}

TEST_CASE("same input, same output, and always a valid answer") {
  // A small pseudo-random sweep of clusters and requests.
  uint64_t x = 12345;
  auto next = [&x] {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    return x >> 33;
  };
  int ok = 0;
  for (int round = 0; round < 200; ++round) {
    std::vector<PeerMetrics> c;
    size_t n = next() % 8;
    for (size_t i = 0; i < n; ++i) {  // one next() per statement: a fixed order
      std::string id = "p" + std::to_string(next() % 10);
      uint64_t free = next() % 4;
      std::string group = next() % 3 ? "g" + std::to_string(next() % 3) : "";
      c.push_back(peer(id, free, group));
    }
    auto min = static_cast<int32_t>(1 + next() % 4);
    AllocationRequest r = factors(min, min + static_cast<int32_t>(next() % 3));
    for (size_t i = next() % 3; i > 0; --i) r.current.push_back("p" + std::to_string(next() % 10));
    for (size_t i = next() % 3; i > 0; --i)
      r.user_allocations.push_back("p" + std::to_string(next() % 10));
    auto a = allocate(r, c);
    auto b = allocate(r, c);
    REQUIRE(a.is_ok() == b.is_ok());
    if (!a.is_ok()) {
      CHECK(a.status().code() == Code::unavailable);
      CHECK(a.status().message() == b.status().message());
      continue;
    }
    ++ok;
    CHECK(*a == *b);
    CHECK(unique(*a));
    CHECK(a->size() >= static_cast<size_t>(r.min));
    CHECK(a->size() <= static_cast<size_t>(r.max));
    // Every peer is a usable candidate, or a current allocation left alone.
    for (const std::string& p : *a) {
      bool usable =
          std::any_of(c.begin(), c.end(), [&](auto& m) { return m.peer == p && m.freespace > 0; });
      bool current = std::find(r.current.begin(), r.current.end(), p) != r.current.end();
      CHECK((usable || current));
    }
  }
  CHECK(ok > 50);  // the sweep exercised successes, not only errors
}
