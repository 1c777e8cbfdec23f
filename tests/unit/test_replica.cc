// Replica: local writes, reads, merge rules, hooks, atomic commits.
#include <doctest/doctest.h>

#include <map>

#include "crdt/replica.h"
#include "replica_util.h"
#include "tempdir.h"

using namespace trellis;
using namespace trellis::testing;

namespace {

std::optional<std::string> get_str(Replica& r, std::string_view key) {
  auto v = r.get(key);
  REQUIRE(v.is_ok());
  if (!*v) return std::nullopt;
  return std::string(as_chars(**v));
}

// Copies every block of `from` that `to` lacks, in any order.
void copy_blocks(Replica& from, Replica& to) {
  auto r = to.on_blocks(all_blocks(from), Accept::any);
  REQUIRE(r.is_ok());
  CHECK(r->rejected.empty());
}

}  // namespace

TEST_CASE("put, get, remove, scan") {
  TempDir dir;
  auto r = open_replica(dir.path());
  auto c1 = r->put("/pins/a", val("1"));
  REQUIRE(c1.is_ok());
  CHECK_FALSE(c1->empty());
  REQUIRE(r->put("/pins/b", val("2")).is_ok());
  REQUIRE(r->put("/other", val("3")).is_ok());
  CHECK(get_str(*r, "/pins/a") == "1");
  CHECK(get_str(*r, "/missing") == std::nullopt);
  CHECK(dump(*r, "/pins/") == std::map<std::string, std::string>{{"/pins/a", "1"}, {"/pins/b", "2"}});
  REQUIRE(r->put("/pins/a", val("1b")).is_ok());
  CHECK(get_str(*r, "/pins/a") == "1b");
  auto rm = r->remove("/pins/a");
  REQUIRE(rm.is_ok());
  CHECK_FALSE(rm->empty());
  CHECK(get_str(*r, "/pins/a") == std::nullopt);
  // Removing an absent key writes nothing.
  auto rm2 = r->remove("/pins/a");
  REQUIRE(rm2.is_ok());
  CHECK(rm2->empty());
  CHECK(dump(*r).size() == 2);
  // Prefix scans stop at the prefix boundary ("/pins/" vs "/pins0").
  REQUIRE(r->put("/pins0", val("x")).is_ok());
  CHECK(dump(*r, "/pins/").size() == 1);
  // Early stop.
  size_t seen = 0;
  REQUIRE(r->scan("", [&](std::string_view, ByteView) { return ++seen < 2; }).is_ok());
  CHECK(seen == 2);
}

TEST_CASE("each commit is one block linking all heads; heights grow") {
  TempDir dir;
  auto r = open_replica(dir.path());
  auto c1 = r->put("k1", val("v"));
  auto c2 = r->put("k2", val("v"));
  REQUIRE((c1.is_ok() && c2.is_ok()));
  auto heads = r->heads();
  REQUIRE(heads.is_ok());
  CHECK(*heads == std::vector<Cid>{*c2});
  auto info = r->info();
  REQUIRE(info.is_ok());
  CHECK(info->blocks == 2);
  CHECK(info->max_height == 2);
}

TEST_CASE("a batch is one block and invisible until committed") {
  TempDir dir;
  auto r = open_replica(dir.path());
  Batch b;
  for (int i = 0; i < 100; ++i) REQUIRE(b.put("k" + std::to_string(i), val("v")).is_ok());
  REQUIRE(b.put("k5", val("last")).is_ok());  // last write in a batch wins
  REQUIRE(b.remove("k6").is_ok());
  CHECK(get_str(*r, "k1") == std::nullopt);
  CHECK(dump(*r).empty());
  auto cid = r->commit(b);
  REQUIRE(cid.is_ok());
  CHECK(dump(*r).size() == 99);
  CHECK(get_str(*r, "k5") == "last");
  CHECK(r->info()->blocks == 1);
  CHECK_FALSE(r->commit(Batch{}).is_ok());  // empty batch is an error
}

TEST_CASE("large batches become a chain of blocks in one transaction") {
  TempDir dir;
  auto r = open_replica(dir.path());
  Batch b;
  Bytes big(100 * 1024, 'x');
  for (int i = 0; i < 30; ++i) REQUIRE(b.put("big" + std::to_string(i), big).is_ok());
  auto cid = r->commit(b);
  REQUIRE(cid.is_ok());
  auto info = r->info();
  CHECK(info->blocks >= 3);
  CHECK(info->heads.size() == 1);
  CHECK(info->heads[0].first == *cid);
  CHECK(dump(*r).size() == 30);
}

TEST_CASE("bad writes are refused with clear errors and change nothing") {
  TempDir dir;
  auto r = open_replica(dir.path());
  CHECK(r->put("", val("v")).status().message().find("empty") != std::string::npos);
  CHECK_FALSE(r->put(std::string("a\0b", 3), val("v")).is_ok());
  CHECK(r->put("k", Bytes(kMaxValueBytes + 1)).status().code() == Code::too_large);
  CHECK(r->info()->blocks == 0);
}

TEST_CASE("a failed commit leaves no trace (atomic block + merge + heads)") {
  TempDir dir;
  int countdown = -1;
  ReplicaOptions opts;
  opts.fail_write = [&] { return countdown >= 0 && countdown-- == 0; };
  auto r = open_replica(dir.path(), opts);
  REQUIRE(r->put("a", val("1")).is_ok());
  for (int fail_at = 0; fail_at < 6; ++fail_at) {
    countdown = fail_at;
    Batch b;
    REQUIRE(b.put("b", val("2")).is_ok());
    REQUIRE(b.remove("a").is_ok());
    CHECK_FALSE(r->commit(b).is_ok());
    CHECK(get_str(*r, "a") == "1");
    CHECK(get_str(*r, "b") == std::nullopt);
    CHECK(r->info()->blocks == 1);
    CHECK(r->heads()->size() == 1);
  }
}

TEST_CASE("merge rules: add wins over a concurrent remove") {
  TempDir dir;
  auto a = open_replica(dir.sub("a"));
  auto b = open_replica(dir.sub("b"));
  REQUIRE(a->put("k", val("v1")).is_ok());
  copy_blocks(*a, *b);
  CHECK(get_str(*b, "k") == "v1");
  // Concurrently: a removes k, b re-adds it.
  REQUIRE(a->remove("k").is_ok());
  REQUIRE(b->put("k", val("v2")).is_ok());
  copy_blocks(*a, *b);
  copy_blocks(*b, *a);
  CHECK(get_str(*a, "k") == "v2");
  CHECK(get_str(*b, "k") == "v2");
  CHECK(*a->heads() == *b->heads());
  CHECK(a->heads()->size() == 2);
}

TEST_CASE("merge rules: highest priority wins, ties go to the greater value") {
  TempDir dir;
  auto a = open_replica(dir.sub("a"));
  auto b = open_replica(dir.sub("b"));
  // Same height on both sides: tie broken by value bytes.
  REQUIRE(a->put("k", val("apple")).is_ok());
  REQUIRE(b->put("k", val("banana")).is_ok());
  copy_blocks(*a, *b);
  copy_blocks(*b, *a);
  CHECK(get_str(*a, "k") == "banana");
  CHECK(get_str(*b, "k") == "banana");
  // A higher block wins even with smaller bytes.
  REQUIRE(a->put("other", val("x")).is_ok());
  REQUIRE(a->put("k", val("aardvark")).is_ok());
  copy_blocks(*a, *b);
  CHECK(get_str(*b, "k") == "aardvark");
  // Removing the winner exposes nothing older: a remove tombstones all seen.
  REQUIRE(b->remove("k").is_ok());
  copy_blocks(*b, *a);
  CHECK(get_str(*a, "k") == std::nullopt);
}

TEST_CASE("a tombstoned winner falls back to the next live element without old blocks") {
  TempDir dir;
  auto a = open_replica(dir.sub("a"));
  auto b = open_replica(dir.sub("b"));
  REQUIRE(a->put("k", val("low")).is_ok());
  REQUIRE(b->put("pad", val("1")).is_ok());
  REQUIRE(b->put("k", val("high")).is_ok());  // height 2 beats height 1
  // c sees only b's element and removes it; a's element (unseen) survives.
  auto c = open_replica(dir.sub("c"));
  copy_blocks(*b, *c);
  REQUIRE(c->remove("k").is_ok());
  copy_blocks(*a, *c);
  copy_blocks(*b, *a);
  copy_blocks(*c, *a);
  CHECK(get_str(*a, "k") == "low");
  CHECK(get_str(*c, "k") == "low");
}

TEST_CASE("hooks fire after commit, once per change") {
  TempDir dir;
  auto r = open_replica(dir.path());
  std::vector<Change> seen;
  r->set_hook([&](const Change& c) { seen.push_back(c); });
  Batch b;
  REQUIRE(b.put("a", val("1")).is_ok());
  REQUIRE(b.put("b", val("2")).is_ok());
  REQUIRE(r->commit(b).is_ok());
  CHECK(seen.size() == 2);
  seen.clear();
  REQUIRE(r->put("a", val("1")).is_ok());  // same value: no change
  CHECK(seen.empty());
  REQUIRE(r->put("a", val("3")).is_ok());
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].key == "a");
  CHECK(seen[0].value == val("3"));
  seen.clear();
  REQUIRE(r->remove("a").is_ok());
  REQUIRE(seen.size() == 1);
  CHECK_FALSE(seen[0].value.has_value());
  seen.clear();
  REQUIRE(r->remove("a").is_ok());
  CHECK(seen.empty());
}

TEST_CASE("state survives reopen") {
  TempDir dir;
  {
    auto r = open_replica(dir.path());
    REQUIRE(r->put("a", val("1")).is_ok());
  }
  auto r = open_replica(dir.path());
  CHECK(get_str(*r, "a") == "1");
  REQUIRE(r->put("b", val("2")).is_ok());
  CHECK(r->info()->max_height == 2);
}

TEST_CASE("tick hands back heads once per interval") {
  TempDir dir;
  ReplicaOptions opts;
  opts.rebroadcast_interval = std::chrono::milliseconds(1000);
  auto r = open_replica(dir.path(), opts);
  REQUIRE(r->put("a", val("1")).is_ok());
  auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  CHECK(r->tick(t0).size() == 1);
  CHECK(r->tick(t0 + std::chrono::milliseconds(999)).empty());
  CHECK(r->tick(t0 + std::chrono::milliseconds(1000)).size() == 1);
}
