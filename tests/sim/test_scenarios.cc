// Scenarios on the virtual network, each asserting the behaviour it names.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "tests/sim/common.h"

namespace trellis::sim::test {
namespace {

Bytes random_bytes(std::mt19937_64& rng, size_t n) {
  Bytes b(n);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return b;
}

}  // namespace

TEST_CASE("scenario: one put reaches all") {
  auto c = make_cluster(5);
  REQUIRE(c->put(0, "hello", bytes_of("world")));
  for (size_t i = 1; i < c->size(); ++i) CHECK(!get(*c, i, "hello"));
  settle(*c);
  for (size_t i = 0; i < c->size(); ++i) CHECK(get(*c, i, "hello") == bytes_of("world"));
}

TEST_CASE("scenario: 50 random keys overwritten from random replicas converge") {
  // Reordering and duplicated messages, no losses.
  auto c = make_cluster(6, 7, NetConfig{1, 60, 0.0, 0.2});
  std::mt19937_64 rng(50);
  std::map<std::string, std::set<Bytes>> written;
  for (int round = 0; round < 4; ++round) {
    std::vector<int> order(50);
    for (int k = 0; k < 50; ++k) order[k] = k;
    std::shuffle(order.begin(), order.end(), rng);
    for (int k : order) {
      std::string key = fmt::format("key-{:02}", k);
      Bytes v = random_bytes(rng, 1 + rng() % 12);
      written[key].insert(v);
      REQUIRE(c->put(rng() % c->size(), key, v));
      c->run_for(rng() % 6);
    }
  }
  settle(*c);
  auto m = c->map(0);
  REQUIRE(m);
  CHECK(m->size() == 50);
  for (const auto& [k, v] : *m) CHECK(written[k].count(v) == 1);
}

TEST_CASE(
    "scenario: 15 replicas x 50 concurrent writes to one key converge, then a later "
    "write wins everywhere") {
  auto c = make_cluster(15, 15);
  std::mt19937_64 rng(15);
  std::vector<Bytes> last(c->size());
  // Nothing is delivered until every replica has written 50 times: 15
  // concurrent chains of 50 blocks, all at height 50.
  for (int round = 0; round < 50; ++round)
    for (size_t i = 0; i < c->size(); ++i) {
      last[i] = random_bytes(rng, 8);
      REQUIRE(c->put(i, "k", last[i]));
    }
  settle(*c);
  // Equal priorities: the greatest value wins.
  Bytes expected = *std::max_element(last.begin(), last.end());
  for (size_t i = 0; i < c->size(); ++i) CHECK(get(*c, i, "k") == expected);
  auto heads = c->sorted_heads(0);
  REQUIRE(heads);
  CHECK(heads->size() == 15);

  REQUIRE(c->put(7, "k", bytes_of("later")));
  settle(*c);
  for (size_t i = 0; i < c->size(); ++i) CHECK(get(*c, i, "k") == bytes_of("later"));
  heads = c->sorted_heads(0);
  REQUIRE(heads);
  CHECK(heads->size() == 1);
}

TEST_CASE(
    "scenario: a replica whose broadcasts are all dropped writes 50 keys and everyone "
    "recovers them from its next visible head") {
  auto c = make_cluster(4, 3);
  size_t rule =
      c->add_drop_rule([](const Message& m) { return m.from == 0 && m.kind == MsgKind::heads; });
  for (int k = 0; k < 50; ++k) {
    REQUIRE(c->put(0, fmt::format("silent-{:02}", k), bytes_of(fmt::format("v{}", k))));
    c->run_for(20);
  }
  c->run_for(5000);  // rebroadcasts happen and are dropped too
  CHECK(c->stats().dropped > 0);
  for (size_t i = 1; i < c->size(); ++i)
    for (int k = 0; k < 50; ++k) CHECK(!get(*c, i, fmt::format("silent-{:02}", k)));
  CHECK(!c->quiet());

  c->remove_drop_rule(rule);
  REQUIRE(c->put(0, "visible", bytes_of("now")));
  settle(*c);
  for (size_t i = 0; i < c->size(); ++i) {
    CHECK(get(*c, i, "visible") == bytes_of("now"));
    for (int k = 0; k < 50; ++k)
      CHECK(get(*c, i, fmt::format("silent-{:02}", k)) == bytes_of(fmt::format("v{}", k)));
  }
}

TEST_CASE("scenario: put-put-delete on one side of a partition while the other side puts") {
  auto c = make_cluster(4, 4);
  REQUIRE(c->put(0, "shared", bytes_of("before")));
  settle(*c);

  c->partition({{0, 1}, {2, 3}});
  REQUIRE(c->put(0, "k", bytes_of("a1")));
  c->run_for(200);
  REQUIRE(c->put(1, "k", bytes_of("a2")));
  c->run_for(200);
  REQUIRE(c->remove(0, "k"));
  REQUIRE(c->put(2, "k", bytes_of("b1")));
  c->run_for(2000);
  for (size_t i : {0, 1}) CHECK(!get(*c, i, "k"));
  for (size_t i : {2, 3}) CHECK(get(*c, i, "k") == bytes_of("b1"));
  CHECK(!c->quiet());

  // The removal tombstones only what its side had seen: b1 survives.
  c->heal();
  settle(*c);
  for (size_t i = 0; i < c->size(); ++i) {
    CHECK(get(*c, i, "k") == bytes_of("b1"));
    CHECK(get(*c, i, "shared") == bytes_of("before"));
  }
}

TEST_CASE("scenario: hooks fire exactly once per replica") {
  // Duplicates, reordering and losses must not repeat or lose hook events.
  auto c = make_cluster(5, 9, NetConfig{1, 50, 0.1, 0.3});
  std::map<std::pair<size_t, std::string>, std::vector<std::optional<Bytes>>> calls;
  c->set_hook([&](size_t i, const Change& ch) { calls[{i, ch.key}].push_back(ch.value); });

  std::vector<std::string> keys;
  for (size_t i = 0; i < c->size(); ++i)
    for (int n = 0; n < 10; ++n) {
      std::string key = fmt::format("{}-{}", c->name(i), n);
      keys.push_back(key);
      REQUIRE(c->put(i, key, bytes_of("v1-" + key)));
      c->run_for(7);
    }
  settle(*c);
  for (size_t i = 0; i < c->size(); ++i)
    for (const auto& key : keys) {
      INFO("replica " << i << " key " << key);
      const auto& got = calls[{i, key}];
      REQUIRE(got.size() == 1);
      CHECK(got[0] == bytes_of("v1-" + key));
    }

  // Overwrite from another replica while r4 is down (it catches up after
  // reopening), then remove: exactly one more event per change.
  c->crash(4);
  for (size_t n = 0; n < keys.size(); ++n) {
    REQUIRE(c->put(n % 4, keys[n], bytes_of("v2-" + keys[n])));
    c->run_for(3);
  }
  c->run_for(1000);
  REQUIRE(c->reopen(4));
  settle(*c);
  for (size_t n = 0; n < keys.size(); n += 2) {
    REQUIRE(c->remove((n + 1) % c->size(), keys[n]));
    c->run_for(3);
  }
  settle(*c);
  for (size_t i = 0; i < c->size(); ++i)
    for (size_t n = 0; n < keys.size(); ++n) {
      INFO("replica " << i << " key " << keys[n]);
      const auto& got = calls[{i, keys[n]}];
      REQUIRE(got.size() == (n % 2 == 0 ? 3 : 2));
      CHECK(got[1] == bytes_of("v2-" + keys[n]));
      if (n % 2 == 0) CHECK(!got[2]);
    }
}

TEST_CASE("scenario: a batch is invisible until committed") {
  auto c = make_cluster(3, 5);
  std::map<std::pair<size_t, std::string>, int> hook_calls;
  c->set_hook([&](size_t i, const Change& ch) { ++hook_calls[{i, ch.key}]; });
  REQUIRE(c->put(0, "z", bytes_of("old")));
  settle(*c);

  Batch b;
  REQUIRE(b.put("x", bytes_of("1")));
  REQUIRE(b.put("y", bytes_of("2")));
  REQUIRE(b.remove("z"));
  REQUIRE(b.put("x", bytes_of("3")));  // the last write to a key in a batch wins
  CHECK(b.size() == 3);
  c->note_key("x");
  c->note_key("y");
  c->run_for(2000);
  for (size_t i = 0; i < c->size(); ++i) {
    CHECK(!get(*c, i, "x"));
    CHECK(!get(*c, i, "y"));
    CHECK(get(*c, i, "z") == bytes_of("old"));
    auto m = c->scan_map(i);
    REQUIRE(m);
    CHECK(m->size() <= 1);  // at most z
    CHECK(!m->count("x"));
  }

  auto cid = c->commit(0, b);
  REQUIRE(cid);
  CHECK(!cid->empty());
  // Visible at once where it was committed, elsewhere only after sync.
  CHECK(get(*c, 0, "x") == bytes_of("3"));
  CHECK(get(*c, 0, "y") == bytes_of("2"));
  CHECK(!get(*c, 0, "z"));
  CHECK(!get(*c, 1, "x"));
  CHECK(get(*c, 1, "z") == bytes_of("old"));
  settle(*c);
  for (size_t i = 0; i < c->size(); ++i) {
    CHECK(get(*c, i, "x") == bytes_of("3"));
    CHECK(get(*c, i, "y") == bytes_of("2"));
    CHECK(!get(*c, i, "z"));
    CHECK(hook_calls[{i, "x"}] == 1);
    CHECK(hook_calls[{i, "y"}] == 1);
    CHECK(hook_calls[{i, "z"}] == 2);
  }
  // An uncommitted batch left behind by a crash leaves no trace.
  Batch lost;
  REQUIRE(lost.put("ghost", bytes_of("boo")));
  c->note_key("ghost");
  c->crash(1);
  REQUIRE(c->reopen(1));
  settle(*c);
  for (size_t i = 0; i < c->size(); ++i) CHECK(!get(*c, i, "ghost"));
}

TEST_CASE("scenario: a failed write leaves the replica consistent") {
  auto c = make_cluster(3, 11);
  REQUIRE(c->put(0, "a", bytes_of("1")));
  settle(*c);
  auto before = c->sorted_heads(0);
  REQUIRE(before);
  // The third write operation of the next commit fails: the call returns the
  // error, nothing of it is visible, and the cluster restarts the replica.
  c->fail_writes_after(0, 3);
  auto r = c->put(0, "b", bytes_of("2"));
  REQUIRE(!r);
  CHECK(r.status().code() == Code::io_error);
  CHECK(!c->up(0));
  CHECK(c->stats().failed_writes == 1);
  c->run_for(1000);
  REQUIRE(c->up(0));
  CHECK(!get(*c, 0, "b"));
  CHECK(c->sorted_heads(0).value() == before.value());
  REQUIRE(c->put(0, "b", bytes_of("3")));
  settle(*c);
  for (size_t i = 0; i < c->size(); ++i) CHECK(get(*c, i, "b") == bytes_of("3"));
}

TEST_CASE("scenario: the same seed replays the same run") {
  SimConfig cfg;
  cfg.replicas = 4;
  cfg.ops = 60;
  cfg.seed = 4242;
  auto a = run_simulation(cfg);
  auto b = run_simulation(cfg);
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->converged == b->converged);
  CHECK(a->messages == b->messages);
  CHECK(a->dropped == b->dropped);
  CHECK(a->steps == b->steps);
  CHECK(a->virtual_ms == b->virtual_ms);
  CHECK(a->blocks == b->blocks);
}

}  // namespace trellis::sim::test

namespace trellis::sim::test {

TEST_CASE("scenario: identical concurrent writes make one block and leave no want behind") {
  // r1 and r0 remove the same key from the same heads: the two blocks are
  // byte for byte the same. r0 hears r1's head first and wants it, but the
  // block is lost in transit; then r0 makes the same block itself.
  auto c = make_cluster(2, 21);
  REQUIRE(c->put(0, "k", bytes_of("x")));
  settle(*c);
  size_t rule = c->add_drop_rule([](const Message& m) { return m.kind == MsgKind::blocks; });
  auto theirs = c->remove(1, "k");
  REQUIRE(theirs);
  c->run_for(100);
  auto wants = c->replica(0).wants(10);
  REQUIRE(wants);
  REQUIRE(wants->size() == 1);
  CHECK(wants->front().cid == *theirs);
  auto ours = c->remove(0, "k");
  REQUIRE(ours);
  CHECK(*ours == *theirs);
  c->remove_drop_rule(rule);
  settle(*c, 20'000);
  for (size_t i = 0; i < c->size(); ++i) CHECK(!get(*c, i, "k"));
}

}  // namespace trellis::sim::test

namespace trellis::sim::test {

TEST_CASE("scenario: hooks report the merges a reopen finishes") {
  // A cascade longer than merge_budget spans several transactions. When the
  // process dies between them, the rest is merged on reopen — and those
  // changes must reach the hook too, or a mirror built from hook events
  // (say, the pins of a pinset) misses them for good.
  TempDir tmp;
  ReplicaOptions o = sim_replica_options();
  auto a = Replica::open(tmp.path() + "/a", o);
  REQUIRE(a);
  for (int k = 0; k < 5; ++k)
    REQUIRE((*a)->put(fmt::format("k{}", k), bytes_of(fmt::format("v{}", k))));
  std::vector<IncomingBlock> chain;
  REQUIRE((*a)->store().read([&](const Txn& txn) {
    Cursor c(txn, (*a)->store().dbs().blocks);
    for (bool ok = c.first(); ok; ok = c.next())
      chain.push_back(
          {Cid::from_bytes(c.key()).value(), Bytes(c.value().begin(), c.value().end())});
    return Status::ok();
  }));
  REQUIRE(chain.size() == 5);

  bool fail = false;
  std::map<std::string, Bytes> hooked;
  auto mirror = [&](const Change& c) {
    if (c.value) {
      hooked[c.key] = *c.value;
    } else {
      hooked.erase(c.key);
    }
  };
  o.merge_budget = 1;
  o.fail_write = [&] { return fail; };
  {
    auto b = Replica::open(tmp.path() + "/b", o);
    REQUIRE(b);
    (*b)->set_hook([&](const Change& c) {
      mirror(c);
      fail = true;  // the process "dies" right after the first transaction
    });
    auto res = (*b)->on_blocks(chain, Accept::any);
    CHECK(!res);
    CHECK(hooked.size() == 1);
  }
  fail = false;
  o.hook = mirror;  // open() finishes the cascade and must report it
  auto b = Replica::open(tmp.path() + "/b", o);
  REQUIRE(b);
  std::map<std::string, Bytes> state;
  REQUIRE((*b)->scan("", [&](std::string_view k, ByteView v) {
    state.emplace(std::string(k), Bytes(v.begin(), v.end()));
    return true;
  }));
  CHECK(state.size() == 5);
  CHECK_MESSAGE(hooked == state,
                "hook events name " << hooked.size() << " keys, the state holds " << state.size());
}

}  // namespace trellis::sim::test
