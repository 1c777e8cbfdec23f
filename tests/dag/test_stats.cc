// trellis-dag stats against the counts the replica itself reports.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "harness.h"

using namespace trellis;
using namespace trellis::dagtest;
using nlohmann::json;

TEST_CASE("stats counts, depth and width match the replica") {
  TempDir tmp;
  Built built = build_store(tmp.sub("a"), tmp.sub("b"));
  ReplicaInfo info;
  {
    auto a = open_replica(tmp.sub("a"));
    auto i = a->info();
    REQUIRE(i.is_ok());
    info = *i;
  }
  Run r = dag({"--json", tmp.sub("a"), "stats"});
  REQUIRE_MESSAGE(r.code == 0, describe(r));
  json j = json::parse(r.out);
  CHECK(j["blocks"] == info.blocks);
  CHECK(j["merged"] == info.merged);
  CHECK(j["pending"] == 0);
  CHECK(j["depth"] == info.max_height);
  CHECK(j["heads"] == info.heads.size());
  CHECK(j["elements"] == info.elements);
  CHECK(j["tombstones"] == info.tombstones);
  CHECK(j["tombstone_ratio"].get<double>() ==
        doctest::Approx(static_cast<double>(info.tombstones) /
                        static_cast<double>(info.elements + info.tombstones)));
  CHECK(j["keys"] == built.keys.size());
  CHECK(j["keys_ever_set"] == built.keys.size() + 2);  // alpha and delta were removed
  CHECK(j["block_bytes"].get<uint64_t>() > 0);
  CHECK(j["file_size"].get<uint64_t>() > 0);
  // Both replicas wrote while apart, then merged: some heights are wider than 1.
  CHECK(j["concurrent_heights"].get<uint64_t>() >= 1);
  CHECK(j["max_width"].get<uint64_t>() >= 2);
  CHECK(j["merges"].get<uint64_t>() >= 1);
  uint64_t blocks = 0, next_from = 1;
  for (const auto& b : j["heights"]) {
    CHECK(b["from"] == next_from);
    next_from = b["to"].get<uint64_t>() + 1;
    blocks += b["blocks"].get<uint64_t>();
  }
  CHECK(next_from == info.max_height + 1);
  CHECK(blocks == info.merged);

  Run one = dag({"--json", tmp.sub("a"), "stats", "--buckets", "1"});
  REQUIRE_MESSAGE(one.code == 0, describe(one));
  json b = json::parse(one.out)["heights"];
  REQUIRE(b.size() == 1);
  CHECK(b[0]["blocks"] == info.merged);
  CHECK(b[0]["max_width"] == j["max_width"]);

  Run text = dag({tmp.sub("a"), "stats"});
  REQUIRE_MESSAGE(text.code == 0, describe(text));
  CHECK(text.out.find("depth:       " + std::to_string(info.max_height) + " (max height)") !=
        std::string::npos);
  CHECK(text.out.find(", " + std::to_string(info.tombstones) + " tombstones (") !=
        std::string::npos);
  CHECK(dag({tmp.sub("a"), "stats", "--buckets", "0"}).code == 2);
}

TEST_CASE("stats of an empty store") {
  TempDir tmp;
  open_replica(tmp.path());
  Run r = dag({"--json", tmp.path(), "stats"});
  REQUIRE_MESSAGE(r.code == 0, describe(r));
  json j = json::parse(r.out);
  CHECK(j["blocks"] == 0);
  CHECK(j["depth"] == 0);
  CHECK(j["heights"].empty());
  CHECK(j["tombstone_ratio"] == 0.0);
}
