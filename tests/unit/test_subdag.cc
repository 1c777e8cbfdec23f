// Sub-DAG walks: what a peer streams to a requester given its haves.
#include <doctest/doctest.h>

#include <set>

#include "replica_util.h"
#include "subdag_util.h"
#include "tempdir.h"

using namespace trellis;
using namespace trellis::testing;

namespace {

void write_n(Replica& r, const std::string& prefix, int n) {
  for (int i = 0; i < n; ++i)
    REQUIRE(r.put(prefix + std::to_string(i % 11), val(prefix + std::to_string(i))).is_ok());
}

std::set<Cid> cids(std::span<const IncomingBlock> blocks) {
  std::set<Cid> s;
  for (const auto& b : blocks) s.insert(b.cid);
  return s;
}

// Feeds a stream the way the replicator does: heads announced, then the
// blocks in stream order, every one accepted as wanted.
void feed(Replica& dst, Replica& src, const std::vector<IncomingBlock>& stream) {
  auto heads = src.heads();
  REQUIRE(heads.is_ok());
  REQUIRE(dst.on_heads("src", *heads).is_ok());
  auto r = dst.on_blocks(stream, Accept::wanted);
  REQUIRE(r.is_ok());
  CHECK(r->rejected.empty());
}

}  // namespace

TEST_SUITE("subdag") {
  TEST_CASE("without haves the walk yields every block, newest first, in an acceptable order") {
    TempDir t;
    auto src = open_replica(t.sub("src"));
    write_n(*src, "a", 40);
    auto heads = *src->heads();
    auto stream = walk_all(*src, heads, {});
    CHECK(stream.size() == all_blocks(*src).size());
    auto dst = open_replica(t.sub("dst"));
    feed(*dst, *src, stream);
    CHECK(dump(*dst) == dump(*src));
    CHECK(*dst->heads() == heads);
    CHECK(dst->info()->wants == 0);
  }

  TEST_CASE("with the requester's heads as haves only the missing blocks come") {
    TempDir t;
    auto src = open_replica(t.sub("src"));
    auto dst = open_replica(t.sub("dst"));
    write_n(*src, "a", 30);
    feed(*dst, *src, walk_all(*src, *src->heads(), {}));
    auto before = cids(all_blocks(*dst));
    write_n(*src, "b", 25);
    auto haves = sample_haves(dst->store(), 64);
    REQUIRE(haves.is_ok());
    auto stream = walk_all(*src, *src->heads(), *haves);
    CHECK(stream.size() == 25);
    for (const auto& b : stream) CHECK(before.count(b.cid) == 0);
    feed(*dst, *src, stream);
    CHECK(dump(*dst) == dump(*src));
  }

  TEST_CASE("after a fork, sampled haves bound what is sent twice") {
    TempDir t;
    auto a = open_replica(t.sub("a"));
    auto b = open_replica(t.sub("b"));
    write_n(*a, "base", 200);
    feed(*b, *a, walk_all(*a, *a->heads(), {}));
    const int fork = 37;
    write_n(*a, "x", fork);  // a's side of the partition
    write_n(*b, "y", 50);    // b's side: heads a does not hold
    auto haves = sample_haves(b->store(), 64);
    REQUIRE(haves.is_ok());
    auto stream = walk_all(*a, *a->heads(), *haves);
    auto b_has = cids(all_blocks(*b));
    size_t again = 0;
    for (const auto& s : stream) again += b_has.count(s.cid);
    CHECK(stream.size() - again == fork);  // every block b lacks
    // b's haves reach into the shared history at a power-of-two depth, so
    // at most as many shared blocks as b's own side are resent.
    CHECK(again <= 50);
    feed(*b, *a, stream);
    auto ra = dump(*a), rb = dump(*b);
    for (const auto& [k, v] : ra) CHECK(rb.at(k) == v);
  }

  TEST_CASE("max_blocks cuts the stream; asking again for the wants finishes it") {
    TempDir t;
    auto src = open_replica(t.sub("src"));
    auto dst = open_replica(t.sub("dst"));
    write_n(*src, "a", 50);
    auto heads = *src->heads();
    REQUIRE(dst->on_heads("src", heads).is_ok());
    size_t rounds = 0;
    for (auto wants = *dst->wants(1024); !wants.empty(); wants = *dst->wants(1024)) {
      std::vector<Cid> roots;
      for (const auto& w : wants) roots.push_back(w.cid);
      auto haves = *sample_haves(dst->store(), 64);
      auto part = walk_all(*src, roots, haves, 12);
      CHECK(part.size() <= 12);
      auto r = dst->on_blocks(part, Accept::wanted);
      REQUIRE(r.is_ok());
      CHECK(r->rejected.empty());
      REQUIRE(++rounds < 20);
    }
    CHECK(rounds == 5);
    CHECK(dump(*dst) == dump(*src));
  }

  TEST_CASE("roots and haves the store lacks are ignored") {
    TempDir t;
    auto src = open_replica(t.sub("src"));
    auto other = open_replica(t.sub("other"));
    write_n(*src, "a", 5);
    write_n(*other, "z", 3);
    auto foreign = *other->heads();
    CHECK(walk_all(*src, foreign, {}).empty());
    CHECK(walk_all(*src, *src->heads(), foreign).size() == 5);
  }
}
