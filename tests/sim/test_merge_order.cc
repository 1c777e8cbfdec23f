// Property: merging the same set of blocks in any order — shuffled, newest
// first, oldest first, with duplicates, in calls of any size — into a fresh
// replica yields the same state.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <random>

#include "tests/sim/common.h"

namespace trellis::sim::test {
namespace {

struct StoredBlock {
  IncomingBlock block;
  uint64_t priority = 0;
};

// Every block replica i stores.
std::vector<StoredBlock> all_blocks(Replica& r) {
  std::vector<StoredBlock> out;
  Status st = r.store().read([&](const Txn& txn) {
    Cursor c(txn, r.store().dbs().blocks);
    for (bool ok = c.first(); ok; ok = c.next()) {
      auto cid = Cid::from_bytes(c.key());
      if (!cid) return cid.status();
      auto block = decode_block(c.value());
      if (!block) return block.status();
      out.push_back(
          {{std::move(*cid), Bytes(c.value().begin(), c.value().end())}, block->delta.priority});
    }
    return Status::ok();
  });
  REQUIRE_MESSAGE(st.is_ok(), st.to_string());
  return out;
}

struct State {
  std::map<std::string, Bytes> map;   // through get() over the known keys
  std::map<std::string, Bytes> scan;  // through scan("")
  std::vector<Cid> heads;
  std::map<std::string, Bytes> hooked;  // hook events replayed
  friend bool operator==(const State&, const State&) = default;
};

State state_of(Replica& r, const std::set<std::string>& keys) {
  State s;
  for (const auto& k : keys) {
    auto v = r.get(k);
    REQUIRE(v);
    if (*v) s.map.emplace(k, std::move(**v));
  }
  REQUIRE(r.scan("", [&](std::string_view k, ByteView v) {
    s.scan.emplace(std::string(k), Bytes(v.begin(), v.end()));
    return true;
  }));
  auto h = r.heads();
  REQUIRE(h);
  s.heads = std::move(*h);
  std::sort(s.heads.begin(), s.heads.end());
  return s;
}

// Merges `order` into a fresh replica in calls of random sizes.
State merge_in_order(const std::string& dir, const std::vector<const StoredBlock*>& order,
                     const std::set<std::string>& keys, std::mt19937_64& rng, size_t merge_budget) {
  ReplicaOptions o;
  o.initial_map_size = size_t{1} << 20;
  o.sync = false;
  o.merge_budget = merge_budget;
  auto r = Replica::open(dir, o);
  REQUIRE_MESSAGE(r.is_ok(), (r ? "" : r.status().to_string()));
  std::map<std::string, Bytes> hooked;
  (*r)->set_hook([&](const Change& c) {
    if (c.value) {
      hooked[c.key] = *c.value;
    } else {
      hooked.erase(c.key);
    }
  });
  for (size_t off = 0; off < order.size();) {
    size_t n = std::min<size_t>(order.size() - off, 1 + rng() % 8);
    std::vector<IncomingBlock> call;
    for (size_t i = off; i < off + n; ++i) call.push_back(order[i]->block);
    auto res = (*r)->on_blocks(call, Accept::any);
    REQUIRE_MESSAGE(res.is_ok(), (res ? "" : res.status().to_string()));
    CHECK(res->rejected.empty());
    off += n;
  }
  auto info = (*r)->info();
  REQUIRE(info);
  CHECK(info->pending == 0);
  CHECK(info->ready == 0);
  CHECK(info->wants == 0);
  State s = state_of(**r, keys);
  s.hooked = std::move(hooked);
  return s;
}

}  // namespace

TEST_CASE("property: merge order does not matter") {
  for (uint64_t seed : {1, 2, 3}) {
    INFO("seed " << seed);
    // A DAG with concurrent writes, removals and batches: four replicas
    // writing over a small key space with reordering in between.
    auto c = make_cluster(4, seed, NetConfig{1, 80, 0.0, 0.1});
    std::mt19937_64 rng(seed);
    for (int op = 0; op < 80; ++op) {
      size_t i = rng() % c->size();
      std::string key = fmt::format("k{}", rng() % 6);
      switch (rng() % 4) {
        case 0:
          REQUIRE(c->remove(i, key));
          break;
        case 1: {
          Batch b;
          for (int n = 0; n < 3; ++n) {
            std::string k = fmt::format("k{}", rng() % 6);
            c->note_key(k);
            if (rng() % 3) {
              REQUIRE(b.put(k, bytes_of(fmt::format("b{}", rng() % 4))));
            } else {
              REQUIRE(b.remove(k));
            }
          }
          REQUIRE(c->commit(i, b));
          break;
        }
        default:
          REQUIRE(c->put(i, key, bytes_of(fmt::format("v{}", rng() % 5))));
      }
      c->run_for(rng() % 30);
    }
    settle(*c);
    auto blocks = all_blocks(c->replica(0));
    REQUIRE(blocks.size() > 40);
    State want = state_of(c->replica(0), c->keys());
    want.hooked = want.map;

    TempDir tmp;
    std::vector<const StoredBlock*> base;
    for (const auto& b : blocks) base.push_back(&b);
    std::vector<std::pair<std::string, std::vector<const StoredBlock*>>> orders;
    {
      auto newest = base;
      std::stable_sort(newest.begin(), newest.end(),
                       [](auto* a, auto* b) { return a->priority > b->priority; });
      orders.emplace_back("newest first", newest);
      std::reverse(newest.begin(), newest.end());
      orders.emplace_back("oldest first", newest);
    }
    for (int n = 0; n < 4; ++n) {
      auto shuffled = base;
      std::shuffle(shuffled.begin(), shuffled.end(), rng);
      orders.emplace_back(fmt::format("shuffle {}", n), shuffled);
    }
    for (int n = 0; n < 2; ++n) {
      // Every block one to three times, shuffled: duplicates within a call
      // and across calls.
      std::vector<const StoredBlock*> dup;
      for (auto* b : base)
        for (uint64_t k = 1 + rng() % 3; k > 0; --k) dup.push_back(b);
      std::shuffle(dup.begin(), dup.end(), rng);
      orders.emplace_back(fmt::format("duplicates {}", n), dup);
    }
    size_t run = 0;
    for (const auto& [label, order] : orders) {
      for (size_t budget : {size_t{4096}, size_t{1}}) {
        INFO(label << ", merge budget " << budget);
        State got = merge_in_order(fmt::format("{}/fresh-{}", tmp.path(), run++), order, c->keys(),
                                   rng, budget);
        CHECK(got.map == want.map);
        CHECK(got.scan == want.scan);
        CHECK(got.heads == want.heads);
        CHECK(got.hooked == want.map);
      }
    }
  }
}

}  // namespace trellis::sim::test
