// trellis-dag verify: passes on good stores (also with a pending walk and
// while a writer has the store open) and fails on damaged ones.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "crdt/stream.h"
#include "crdt/subdag.h"
#include "harness.h"

using namespace trellis;
using namespace trellis::dagtest;
using nlohmann::json;

namespace {

std::unique_ptr<Store> open_store(const std::string& dir) {
  StoreOptions opts;
  opts.sync = false;
  auto s = Store::open(dir, opts);
  REQUIRE_MESSAGE(s.is_ok(), s.status().to_string());
  return std::move(*s);
}

// Applies fn to the store's tables in one write transaction.
void tamper(const std::string& dir, const std::function<void(Txn&, const Dbs&)>& fn) {
  auto store = open_store(dir);
  REQUIRE(store
              ->write([&](Txn& txn) {
                fn(txn, store->dbs());
                return Status::ok();
              })
              .is_ok());
}

Cid interior(const std::string& dir) {
  auto r = open_replica(dir);
  return interior_block(*r);
}

}  // namespace

TEST_CASE("verify passes on a good store, in text and JSON") {
  TempDir tmp;
  Built built = build_store(tmp.sub("a"), tmp.sub("b"));
  Run r = dag({tmp.sub("a"), "verify"});
  CHECK_MESSAGE(r.code == 0, describe(r));
  CHECK(r.out.find("result: OK") != std::string::npos);
  CHECK(r.out.find("PROBLEM") == std::string::npos);
  CHECK(r.out.find("warning") == std::string::npos);

  Run j = dag({"--json", tmp.sub("a"), "verify"});
  REQUIRE_MESSAGE(j.code == 0, describe(j));
  json o = json::parse(j.out);
  CHECK(o["ok"] == true);
  CHECK(o["problems"] == 0);
  CHECK(o["merged"] == built.merged);
  CHECK(o["reachable"] == built.merged);
  CHECK(o["keys"] == built.keys.size());
  CHECK(o["recomputed_keys"] == built.keys.size());
}

TEST_CASE("verify reads a snapshot while a writer holds the store") {
  TempDir tmp;
  build_store(tmp.sub("a"), tmp.sub("b"));
  auto writer = open_replica(tmp.sub("a"));  // holds writer.lock
  REQUIRE(writer->put("while-open", val("yes")).is_ok());
  Run r = dag({tmp.sub("a"), "verify"});
  CHECK_MESSAGE(r.code == 0, describe(r));
  Run get = dag({tmp.sub("a"), "get", "while-open"});
  CHECK(get.code == 0);
  CHECK(get.out == "yes");
}

TEST_CASE("verify accepts a pending walk and lists its wants") {
  TempDir tmp;
  build_store(tmp.sub("a"), tmp.sub("b"));
  auto src = open_replica(tmp.sub("a"));
  auto dst = open_replica(tmp.sub("c"));
  REQUIRE(dst->put("own", val("data")).is_ok());
  auto heads = src->heads();
  REQUIRE(heads.is_ok());
  auto wants = dst->on_heads("a", *heads);
  REQUIRE(wants.is_ok());
  REQUIRE(!wants->empty());
  // Deliver one head only: it stays pending on its links, which are wanted.
  Bytes bytes;
  REQUIRE(src->store()
              .read([&](const Txn& t) {
                auto v = t.get(src->store().dbs().blocks, (*wants)[0].cid.view());
                REQUIRE(v);
                bytes.assign(v->begin(), v->end());
                return Status::ok();
              })
              .is_ok());
  auto res = dst->on_block((*wants)[0].cid, bytes);
  REQUIRE(res.is_ok());
  REQUIRE(res->stored == 1);
  REQUIRE(res->merged == 0);
  dst.reset();

  Run r = dag({tmp.sub("c"), "verify"});
  CHECK_MESSAGE(r.code == 0, describe(r));
  CHECK(r.out.find("missing (wanted)") != std::string::npos);
  Run info = dag({"--json", tmp.sub("c"), "info"});
  json o = json::parse(info.out);
  CHECK(o["pending"] == 1);
  CHECK(o["wants"].get<size_t>() >= 1);
  Run walk = dag({tmp.sub("c"), "walk", "--from", (*wants)[0].cid.to_string()});
  CHECK(walk.out.find("pending") != std::string::npos);
  CHECK(walk.out.find("missing (wanted)") != std::string::npos);
}

TEST_CASE("verify accepts blocks a stream staged and show names their state") {
  TempDir tmp;
  build_store(tmp.sub("a"), tmp.sub("b"));
  auto src = open_replica(tmp.sub("a"));
  auto dst = open_replica(tmp.sub("c"));
  auto heads = src->heads();
  REQUIRE(heads.is_ok());
  // The stream's first item: the newest blocks, whose links come later.
  SubdagWalk walk(*heads, {}, 1000);
  std::vector<IncomingBlock> first;
  REQUIRE(walk.next(src->store(), first, 1 << 20, 1).is_ok());
  REQUIRE(first.size() == 1);
  StreamIngest in(*dst, *heads, "a");
  auto res = in.add(first);
  REQUIRE(res.is_ok());
  REQUIRE(res->stored == 1);
  dst.reset();  // closed before the stream ended: nothing merged

  Run r = dag({tmp.sub("c"), "verify"});
  CHECK_MESSAGE(r.code == 0, describe(r));
  CHECK(r.out.find("1 staged") != std::string::npos);
  Run info = dag({"--json", tmp.sub("c"), "info"});
  CHECK(json::parse(info.out)["staged"] == 1);
  Run show = dag({tmp.sub("c"), "show", first[0].cid.to_string()});
  CHECK(show.out.find("staged") != std::string::npos);
}

TEST_CASE("verify fails on a block whose bytes were damaged") {
  TempDir tmp;
  build_store(tmp.sub("a"), tmp.sub("b"));
  Cid victim = interior(tmp.sub("a"));
  tamper(tmp.sub("a"), [&](Txn& txn, const Dbs& d) {
    auto v = txn.get(d.blocks, victim.view());
    REQUIRE(v);
    Bytes damaged(v->begin(), v->end());
    damaged.back() ^= 0x01;  // a byte of the last tombstone/element: still decodes or not
    REQUIRE(txn.put(d.blocks, victim.view(), damaged).is_ok());
  });
  Run r = dag({tmp.sub("a"), "verify"});
  CHECK_MESSAGE(r.code == 1, describe(r));
  CHECK(r.out.find("PROBLEM [hash] " + victim.to_string()) != std::string::npos);
  CHECK(r.out.find("result: ") != std::string::npos);
  CHECK(r.out.find("result: OK") == std::string::npos);

  Run j = dag({"--json", tmp.sub("a"), "verify"});
  CHECK(j.code == 1);
  json o = json::parse(j.out);
  CHECK(o["ok"] == false);
  CHECK(o["problems_by_check"]["hash"] == 1);
}

TEST_CASE("verify fails on a store that lost a merged block") {
  TempDir tmp;
  build_store(tmp.sub("a"), tmp.sub("b"));
  Cid victim = interior(tmp.sub("a"));
  tamper(tmp.sub("a"),
         [&](Txn& txn, const Dbs& d) { REQUIRE(txn.del(d.blocks, victim.view()).is_ok()); });
  Run r = dag({tmp.sub("a"), "verify"});
  CHECK_MESSAGE(r.code == 1, describe(r));
  CHECK(r.out.find("links to " + victim.to_string() + ", which is not stored") !=
        std::string::npos);
  CHECK(r.out.find("PROBLEM [links] " + victim.to_string() + ": block is merged but not stored") !=
        std::string::npos);
  // The blocks left cannot rebuild the state: the recomputation says so.
  CHECK(r.out.find("PROBLEM [state]") != std::string::npos);
  // walk marks the hole.
  Run walk = dag({tmp.sub("a"), "walk"});
  CHECK(walk.out.find(victim.to_string() + " - - - missing") != std::string::npos);
}

TEST_CASE("verify fails when a merged block is unreachable from the heads") {
  TempDir tmp;
  Built built = build_store(tmp.sub("a"), tmp.sub("b"));
  // Drop a head from `heads`: its block (and what only it reaches) is orphaned.
  tamper(tmp.sub("a"),
         [&](Txn& txn, const Dbs& d) { REQUIRE(txn.del(d.heads, built.heads[0].view()).is_ok()); });
  Run r = dag({tmp.sub("a"), "verify"});
  CHECK_MESSAGE(r.code == 1, describe(r));
  CHECK(r.out.find("PROBLEM [reachability] " + built.heads[0].to_string()) != std::string::npos);
  CHECK(r.out.find("is a head of the recomputed state but not in the store") != std::string::npos);
}

namespace {

// Rewrites the value of every stored element of `key` behind the replica's back.
void rewrite_elements(const std::string& dir, const std::string& key, std::string_view value) {
  tamper(dir, [&](Txn& txn, const Dbs& d) {
    Bytes prefix(key.begin(), key.end());
    prefix.push_back(0);
    std::vector<std::pair<Bytes, Bytes>> rewrites;
    {
      Cursor c(txn, d.elems);
      for (bool ok = c.seek(prefix); ok && c.key().size() > prefix.size() &&
                                     std::equal(prefix.begin(), prefix.end(), c.key().begin());
           ok = c.next()) {
        Bytes v(c.value().begin(), c.value().begin() + 8);
        v.insert(v.end(), value.begin(), value.end());
        rewrites.emplace_back(Bytes(c.key().begin(), c.key().end()), std::move(v));
      }
    }
    REQUIRE(!rewrites.empty());
    for (const auto& [k, v] : rewrites) REQUIRE(txn.put(d.elems, k, v).is_ok());
  });
}

}  // namespace

TEST_CASE("verify fails when the stored state differs from the blocks") {
  TempDir tmp;
  build_store(tmp.sub("a"), tmp.sub("b"));
  SUBCASE("a live value changed") {
    rewrite_elements(tmp.sub("a"), "epsilon", "forged");
    Run r = dag({tmp.sub("a"), "verify"});
    CHECK_MESSAGE(r.code == 1, describe(r));
    CHECK(r.out.find("key 'epsilon' is \"forged\" in the store but \"5\" recomputed") !=
          std::string::npos);
    CHECK(r.out.find("elems entry 'epsilon' of block") != std::string::npos);
    CHECK(dag({tmp.sub("a"), "get", "epsilon"}).out == "forged");
  }
  SUBCASE("an element that does not win changed") {
    // beta has two elements (written on both replicas); both are rewritten
    // to the same value, so at least one non-winning element differs.
    rewrite_elements(tmp.sub("a"), "beta", "2");
    Run r = dag({tmp.sub("a"), "verify"});
    CHECK_MESSAGE(r.code == 1, describe(r));
    CHECK(r.out.find("elems entry 'beta' of block") != std::string::npos);
  }
  SUBCASE("a tombstone lost") {
    tamper(tmp.sub("a"), [&](Txn& txn, const Dbs& d) {
      Cursor c(txn, d.tombs);
      REQUIRE(c.first());
      Bytes k(c.key().begin(), c.key().end());
      REQUIRE(txn.del(d.tombs, k).is_ok());
    });
    Run r = dag({tmp.sub("a"), "verify"});
    CHECK_MESSAGE(r.code == 1, describe(r));
    CHECK(r.out.find("but the store does not") != std::string::npos);
  }
}
