// Remote sync state machine: wants, verification, causal merging, heads,
// and a walk that survives being cut off at any point.
#include <doctest/doctest.h>

#include <map>

#include "crdt/replica.h"
#include "replica_util.h"
#include "tempdir.h"

using namespace trellis;
using namespace trellis::testing;

namespace {

Bytes block_bytes(Replica& r, const Cid& cid) {
  Bytes out;
  REQUIRE(r.store().read([&](const Txn& t) {
    auto v = t.get(r.store().dbs().blocks, cid.view());
    REQUIRE(v);
    out.assign(v->begin(), v->end());
    return Status::ok();
  }).is_ok());
  return out;
}

// A source with a linear history of n single-put blocks.
std::unique_ptr<Replica> chain(const std::string& dir, int n) {
  auto src = open_replica(dir);
  for (int i = 0; i < n; ++i)
    REQUIRE(src->put("k" + std::to_string(i % 7), val("v" + std::to_string(i))).is_ok());
  return src;
}

// Serves wants from `src` until `dst` wants nothing, one block per call, and
// returns the number of calls.
size_t pull_all(Replica& src, Replica& dst, std::vector<Want> wants) {
  size_t calls = 0;
  while (!wants.empty()) {
    Want w = wants.back();
    wants.pop_back();
    auto r = dst.on_block(w.cid, block_bytes(src, w.cid));
    REQUIRE(r.is_ok());
    CHECK(r->rejected.empty());
    for (auto& n : r->wants) wants.push_back(n);
    ++calls;
  }
  return calls;
}

}  // namespace

TEST_CASE("heads in, wants out, blocks in: the replica converges") {
  TempDir dir;
  auto src = chain(dir.sub("src"), 20);
  auto dst = open_replica(dir.sub("dst"));
  auto heads = src->heads();
  auto wants = dst->on_heads("peerA", *heads);
  REQUIRE(wants.is_ok());
  REQUIRE(wants->size() == 1);
  CHECK((*wants)[0].peer == "peerA");
  // Heads do not move until the whole history below is merged.
  auto first = dst->on_block((*wants)[0].cid, block_bytes(*src, (*wants)[0].cid));
  REQUIRE(first.is_ok());
  CHECK(first->merged == 0);
  CHECK(dst->heads()->empty());
  CHECK(first->wants.size() == 1);
  CHECK(first->wants[0].peer == "peerA");  // the hint travels down the walk
  CHECK(pull_all(*src, *dst, first->wants) == 19);
  CHECK(*dst->heads() == *heads);
  CHECK(dump(*dst) == dump(*src));
  auto info = dst->info();
  CHECK(info->pending == 0);
  CHECK(info->wants == 0);
  CHECK(info->ready == 0);
  // Announcing known heads again wants nothing.
  CHECK(dst->on_heads("peerB", *heads)->empty());
}

TEST_CASE("blocks that do not hash to their CID, or were not asked for, are refused") {
  TempDir dir;
  auto src = chain(dir.sub("src"), 3);
  auto dst = open_replica(dir.sub("dst"));
  auto heads = *src->heads();
  // Not wanted yet.
  auto r = dst->on_block(heads[0], block_bytes(*src, heads[0]));
  REQUIRE(r.is_ok());
  REQUIRE(r->rejected.size() == 1);
  CHECK(r->rejected[0].find("not asked for") != std::string::npos);
  REQUIRE(dst->on_heads("p", heads).is_ok());
  // Tampered bytes.
  Bytes bad = block_bytes(*src, heads[0]);
  bad.back() ^= 1;
  r = dst->on_block(heads[0], bad);
  REQUIRE(r.is_ok());
  REQUIRE(r->rejected.size() == 1);
  CHECK(r->rejected[0].find("do not hash") != std::string::npos);
  CHECK(dst->info()->blocks == 0);
  // A CID that is not a block CID.
  Cid dagpb = Cid::sha256(kCodecDagPb, as_bytes("x"));
  CHECK_FALSE(dst->on_heads("p", std::vector<Cid>{dagpb}).is_ok());
  // Too many heads in one announcement.
  std::vector<Cid> many(kMaxLinks + 1, heads[0]);
  CHECK(dst->on_heads("p", many).status().code() == Code::too_large);
  // The right bytes are still accepted afterwards.
  r = dst->on_block(heads[0], block_bytes(*src, heads[0]));
  REQUIRE(r.is_ok());
  CHECK(r->stored == 1);
}

TEST_CASE("blocks merge in any order, any number of times, to the same state") {
  TempDir dir;
  auto a = open_replica(dir.sub("a"));
  auto b = open_replica(dir.sub("b"));
  // Two forked histories with overlapping keys.
  for (int i = 0; i < 10; ++i) {
    REQUIRE(a->put("k" + std::to_string(i % 3), val("a" + std::to_string(i))).is_ok());
    REQUIRE(b->put("k" + std::to_string(i % 4), val("b" + std::to_string(i))).is_ok());
    if (i == 5) REQUIRE(a->remove("k1").is_ok());
  }
  std::vector<IncomingBlock> all = all_blocks(*a);
  for (auto& blk : all_blocks(*b)) all.push_back(std::move(blk));
  std::optional<std::map<std::string, std::string>> expect;
  std::optional<std::vector<Cid>> expect_heads;
  for (int order = 0; order < 4; ++order) {
    auto blocks = all;
    if (order == 1) std::reverse(blocks.begin(), blocks.end());
    if (order == 2) std::rotate(blocks.begin(), blocks.begin() + 7, blocks.end());
    if (order == 3) blocks.insert(blocks.end(), all.begin(), all.end());  // duplicates
    auto r = open_replica(dir.sub("m" + std::to_string(order)));
    // Feed one at a time so pending/ready paths are exercised.
    for (const auto& blk : blocks) REQUIRE(r->on_blocks({&blk, 1}, Accept::any).is_ok());
    auto state = dump(*r);
    auto heads = *r->heads();
    CHECK(heads.size() == 2);
    if (!expect) {
      expect = state;
      expect_heads = heads;
    }
    CHECK(state == *expect);
    CHECK(heads == *expect_heads);
  }
}

TEST_CASE("a walk cut off at any point resumes after reopen and converges") {
  TempDir dir;
  auto src = chain(dir.sub("src"), 30);
  auto heads = *src->heads();
  for (int cut = 0; cut < 30; cut += 3) {
    std::string path = dir.sub("dst" + std::to_string(cut));
    {
      auto dst = open_replica(path);
      auto wants = *dst->on_heads("p", heads);
      for (int i = 0; i < cut && !wants.empty(); ++i) {
        Want w = wants.back();
        wants.pop_back();
        auto r = dst->on_block(w.cid, block_bytes(*src, w.cid));
        REQUIRE(r.is_ok());
        for (auto& n : r->wants) wants.push_back(n);
      }
    }  // "crash": all in-memory walk state is gone
    auto dst = open_replica(path);
    auto wants = dst->wants(100);
    REQUIRE(wants.is_ok());
    CHECK(wants->size() <= 1);  // a linear chain has one frontier
    pull_all(*src, *dst, *wants);
    CHECK(*dst->heads() == heads);
    CHECK(dump(*dst) == dump(*src));
  }
}

TEST_CASE("a write fault mid-merge loses nothing; reopening resumes") {
  TempDir dir;
  auto src = chain(dir.sub("src"), 40);
  std::vector<IncomingBlock> all = all_blocks(*src);
  std::string path = dir.sub("dst");
  int writes = 0;
  bool armed = true;
  ReplicaOptions opts;
  opts.merge_budget = 4;  // force a cascade over several transactions
  opts.fail_write = [&] { return armed && ++writes == 150; };
  {
    auto dst = open_replica(path, opts);
    // Feed everything; some transaction fails part-way.
    bool failed = false;
    for (size_t i = 0; i < all.size(); i += 8) {
      std::span<const IncomingBlock> part(all.data() + i, std::min<size_t>(8, all.size() - i));
      if (!dst->on_blocks(part, Accept::any).is_ok()) failed = true;
    }
    CHECK(failed);
  }
  armed = false;
  auto dst = open_replica(path, opts);
  // Blocks of the failed transaction were never stored: feed everything again.
  REQUIRE(dst->on_blocks(all, Accept::any).is_ok());
  CHECK(*dst->heads() == *src->heads());
  CHECK(dump(*dst) == dump(*src));
  CHECK(dst->info()->merged == all.size());
}

TEST_CASE("a cascade longer than the merge budget finishes in bounded transactions") {
  TempDir dir;
  auto src = chain(dir.sub("src"), 50);
  ReplicaOptions opts;
  opts.merge_budget = 8;
  auto dst = open_replica(dir.sub("dst"), opts);
  size_t hooks = 0;
  dst->set_hook([&](const Change&) { ++hooks; });
  auto wants = *dst->on_heads("p", *src->heads());
  // Newest first: everything pends until the oldest block arrives.
  pull_all(*src, *dst, wants);
  CHECK(dst->info()->merged == 50);
  CHECK(dump(*dst) == dump(*src));
  CHECK(hooks >= 7);
}
