// trellis-dag history: the blocks that set and removed one key.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "harness.h"

using namespace trellis;
using namespace trellis::dagtest;
using nlohmann::json;

TEST_CASE("history lists the blocks that set, overwrote and removed a key, newest first") {
  TempDir tmp;
  auto r = open_replica(tmp.path());
  auto set = r->put("k", val("v1"));
  REQUIRE(r->put("other", val("k")).is_ok());  // names k, but only as a value
  auto overwrite = r->put("k", val("v2"));
  REQUIRE(r->put("kk", val("x")).is_ok());
  auto removed = r->remove("k");
  REQUIRE((set.is_ok() && overwrite.is_ok() && removed.is_ok()));

  Run js = dag({"--json", tmp.path(), "history", "k"});
  REQUIRE_MESSAGE(js.code == 0, describe(js));
  auto got = lines(js.out);
  REQUIRE(got.size() == 3);
  json newest = json::parse(got[0]), middle = json::parse(got[1]), oldest = json::parse(got[2]);
  CHECK(newest["cid"] == removed->to_string());
  CHECK(!newest.contains("value"));
  CHECK(newest["removed"].size() == 2);  // both elements of k were live
  CHECK(middle["cid"] == overwrite->to_string());
  CHECK(middle["value"] == "v2");
  CHECK(middle["fate"] == "tombstoned");
  CHECK(middle["winner"] == false);
  CHECK(oldest["cid"] == set->to_string());
  CHECK(oldest["value"] == "v1");
  CHECK(newest["height"] > middle["height"]);
  CHECK(middle["height"] > oldest["height"]);

  Run text = dag({tmp.path(), "history", "k"});
  REQUIRE_MESSAGE(text.code == 0, describe(text));
  auto tl = lines(text.out);
  REQUIRE(tl.size() == 4);
  CHECK(tl[0] == "k: 3 blocks that set or removed it, newest first (5 stored blocks scanned)");
  CHECK(tl[1].starts_with(removed->to_string() + "  5  removed the values set by "));
  CHECK(tl[2] == overwrite->to_string() + "  3  set \"v2\" [tombstoned]");
  CHECK(tl[3] == set->to_string() + "  1  set \"v1\" [tombstoned]");

  // Set again: the newest element is the key's winner.
  auto again = r->put("k", val("v3"));
  REQUIRE(again.is_ok());
  Run now = dag({"--json", tmp.path(), "history", "k"});
  json top = json::parse(lines(now.out).at(0));
  CHECK(top["cid"] == again->to_string());
  CHECK(top["winner"] == true);
  CHECK(top["fate"] == "live, current value");

  Run none = dag({tmp.path(), "history", "absent"});
  CHECK(none.code == 1);
  CHECK(none.err.find("no stored block") != std::string::npos);
  CHECK(dag({tmp.path(), "history"}).code == 2);
}
