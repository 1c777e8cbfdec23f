// trellis-dag diff: two replicas that share a history and then diverge, as
// in a partition, and the same two after syncing both ways.
#include <doctest/doctest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "harness.h"

using namespace trellis;
using namespace trellis::dagtest;
using nlohmann::json;

namespace {

std::set<std::string> minus(const std::set<std::string>& x, const std::set<std::string>& y) {
  std::set<std::string> out;
  std::set_difference(x.begin(), x.end(), y.begin(), y.end(), std::inserter(out, out.end()));
  return out;
}

std::set<std::string> head_set(const Replica& r) {
  auto heads = r.heads();
  REQUIRE(heads.is_ok());
  std::set<std::string> out;
  for (const auto& h : *heads) out.insert(h.to_string());
  return out;
}

struct JsonDiff {
  std::map<std::string, std::set<std::string>> cids;  // "block A" → CIDs
  std::map<std::string, std::set<std::string>> keys;  // "A", "B", "different" → keys
  json summary;
};

JsonDiff parse_diff(const std::string& out) {
  JsonDiff d;
  for (const auto& line : lines(out)) {
    json j = json::parse(line);
    const std::string what = j["diff"];
    if (what == "summary")
      d.summary = j;
    else if (what == "key")
      d.keys[j.contains("only_in") ? j["only_in"].get<std::string>() : "different"].insert(
          j["key"].get<std::string>());
    else
      d.cids[what + " " + j["only_in"].get<std::string>()].insert(j["cid"].get<std::string>());
  }
  return d;
}

}  // namespace

TEST_CASE("diff names exactly the blocks each side lacks, then equal after sync") {
  TempDir tmp;
  const std::string da = tmp.sub("a"), db = tmp.sub("b");
  auto a = open_replica(da);
  auto b = open_replica(db);
  REQUIRE(a->put("shared/1", val("1")).is_ok());
  REQUIRE(a->put("shared/2", val("2")).is_ok());
  sync(*a, *b);
  REQUIRE(b->put("shared/3", val("3")).is_ok());
  sync(*b, *a);
  // Partition: each side writes on its own.
  REQUIRE(a->put("a/1", val("x")).is_ok());
  REQUIRE(a->put("a/2", val("y")).is_ok());
  REQUIRE(a->remove("shared/1").is_ok());
  REQUIRE(b->put("b/1", val("z")).is_ok());
  REQUIRE(b->put("shared/2", val("B")).is_ok());

  const auto blocks_a = stored_blocks(*a), blocks_b = stored_blocks(*b);
  REQUIRE(!minus(blocks_a, blocks_b).empty());
  Run r = dag({"--json", da, "diff", db});
  REQUIRE_MESSAGE(r.code == 1, describe(r));
  JsonDiff d = parse_diff(r.out);
  CHECK(d.cids["block A"] == minus(blocks_a, blocks_b));
  CHECK(d.cids["block B"] == minus(blocks_b, blocks_a));
  CHECK(d.cids["head A"] == minus(head_set(*a), head_set(*b)));
  CHECK(d.cids["head B"] == minus(head_set(*b), head_set(*a)));
  CHECK(d.keys["A"] == std::set<std::string>{"a/1", "a/2"});
  CHECK(d.keys["B"] == std::set<std::string>{"b/1", "shared/1"});
  CHECK(d.keys["different"] == std::set<std::string>{"shared/2"});
  CHECK(d.summary["states_equal"] == false);
  CHECK(d.summary["heads_equal"] == false);
  CHECK(d.summary["blocks_only_in_a"] == d.cids["block A"].size());
  CHECK(d.summary["keys_same"] == 1);  // shared/3

  Run text = dag({da, "diff", db});
  REQUIRE_MESSAGE(text.code == 1, describe(text));
  CHECK(text.out.find("states differ: 5 keys; heads differ") != std::string::npos);
  CHECK(text.out.find("  ≠  shared/2: A \"2\", B \"B\"") != std::string::npos);
  for (const auto& cid : minus(blocks_a, blocks_b))
    CHECK(text.out.find("  A  " + cid + "  ") != std::string::npos);

  sync(*a, *b);
  sync(*b, *a);
  Run same = dag({da, "diff", db});
  REQUIRE_MESSAGE(same.code == 0, describe(same));
  CHECK(lines(same.out).back() == "equal: the same 5 live keys and values; same heads");
  Run js = dag({"--json", da, "diff", db});
  REQUIRE_MESSAGE(js.code == 0, describe(js));
  REQUIRE(lines(js.out).size() == 1);
  CHECK(json::parse(js.out)["states_equal"] == true);
}

TEST_CASE("diff lists 100 entries of a kind unless --all") {
  TempDir tmp;
  auto a = open_replica(tmp.sub("a"));
  auto b = open_replica(tmp.sub("b"));
  for (int i = 0; i < 103; ++i) REQUIRE(a->put("k" + std::to_string(i), val("v")).is_ok());
  Run r = dag({tmp.sub("a"), "diff", tmp.sub("b")});
  REQUIRE_MESSAGE(r.code == 1, describe(r));
  CHECK(r.out.find("  … and 3 more only in A (--all lists them)\n  103 only in A, 0 only in B\n") !=
        std::string::npos);
  Run all = dag({tmp.sub("a"), "diff", tmp.sub("b"), "--all"});
  CHECK(all.out.find("more only in A") == std::string::npos);
  size_t listed = 0;
  for (const auto& line : lines(all.out)) listed += line.starts_with("  A  ");
  CHECK(listed == 1 + 103 + 103);  // the head, the blocks, the keys
}
