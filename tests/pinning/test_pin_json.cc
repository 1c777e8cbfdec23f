// IPFS Cluster's JSON pin object: round trip, every field's spelling, and
// bad input refused with a message naming the field.
#include <doctest/doctest.h>

#include "content.h"
#include "pinning/pin_json.h"
#include "pinning/rfc3339.h"

using namespace trellis;
using namespace trellis::pinning;
using testing::content;
using nlohmann::json;

namespace {

Pin full_pin() {
  Pin p;
  p.cid = content("a");
  p.type = PinType::meta;
  p.name = "photos";
  p.mode = Mode::direct;
  p.max_depth = 0;
  p.replication_factor_min = 2;
  p.replication_factor_max = 3;
  p.allocations = {"12D3KooWA", "12D3KooWB"};
  p.user_allocations = {"12D3KooWB"};
  p.expire_at = 1'900'000'000'123'456'789;
  p.metadata = {{"a", "first"}, {"z", "last"}};
  p.pin_update = content("old");
  p.origins = {"/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWC"};
  p.reference = content("ref");
  p.timestamp = 1'800'000'000'000'000'000;
  return p;
}

std::string error_of(const json& j) {
  auto p = pin_from_json(j);
  REQUIRE_FALSE(p.is_ok());
  return p.status().message();
}

bool mentions(const std::string& message, const char* what) {
  return message.find(what) != std::string::npos;
}

}  // namespace

TEST_CASE("pin JSON round trip keeps every field") {
  const Pin p = full_pin();
  auto back = pin_from_json(json::parse(pin_to_json(p).dump()));
  REQUIRE(back.is_ok());
  CHECK(*back == p);
  Pin plain;
  plain.cid = content("b");
  auto back2 = pin_from_json(pin_to_json(plain));
  REQUIRE(back2.is_ok());
  CHECK(*back2 == plain);
}

TEST_CASE("pin JSON output uses IPFS Cluster's spellings") {
  const json j = pin_to_json(full_pin());
  CHECK(j["cid"] == content("a").to_string());
  CHECK(j["type"] == "meta-pin");
  CHECK(j["mode"] == "direct");
  CHECK(j["max_depth"] == 0);
  CHECK(j["shard_size"] == 0);
  CHECK(j["expire_at"] == "2030-03-17T17:46:40.123456789Z");
  CHECK(j["timestamp"] == "2027-01-15T08:00:00Z");
  CHECK(j["pin_update"] == content("old").to_string());
  CHECK(j["metadata"]["z"] == "last");
  CHECK(j["allocations"].size() == 2);
  CHECK(j["user_allocations"][0] == "12D3KooWB");
  CHECK(j["origins"].size() == 1);
  CHECK(j["reference"] == content("ref").to_string());
  CHECK(j["replication_factor_min"] == 2);
  CHECK(j["replication_factor_max"] == 3);
  CHECK(j["name"] == "photos");
  Pin plain;
  plain.cid = content("b");
  const json k = pin_to_json(plain);
  CHECK(k["expire_at"] == "0001-01-01T00:00:00Z");
  CHECK(k["pin_update"].is_null());
  CHECK(k["reference"].is_null());
  CHECK(k["type"] == "pin");
}

TEST_CASE("pin JSON input accepts upstream's alternatives") {
  const std::string cid = content("a").to_string();
  json j = {{"cid", {{"/", cid}}}, {"type", 2},       {"mode", "direct"},
            {"allocations", nullptr}, {"metadata", nullptr}, {"pin_update", nullptr},
            {"expire_at", "2030-01-02T17:04:05.5+02:00"}};
  auto p = pin_from_json(j);
  REQUIRE(p.is_ok());
  CHECK(p->cid == content("a"));
  CHECK(p->type == PinType::data);
  CHECK(p->max_depth == 0);  // derived from mode when absent
  CHECK(p->allocations.empty());
  CHECK(format_rfc3339(p->expire_at) == "2030-01-02T15:04:05.5Z");
  auto zero = parse_rfc3339("0001-01-01T00:00:00Z");
  REQUIRE(zero.is_ok());
  CHECK(*zero == 0);
}

TEST_CASE("pin JSON input refuses bad fields by name") {
  const std::string cid = content("a").to_string();
  CHECK(mentions(error_of(json::array()), "object"));
  CHECK(mentions(error_of(json::object()), "\"cid\" is missing"));
  CHECK(mentions(error_of({{"cid", "nope"}}), "\"cid\""));
  CHECK(mentions(error_of({{"cid", {{"x", cid}}}}), "\"cid\""));
  CHECK(mentions(error_of({{"cid", cid}, {"colour", "red"}}), "\"colour\" is unknown"));
  CHECK(mentions(error_of({{"cid", cid}, {"type", "bad-type"}}), "\"type\""));
  CHECK(mentions(error_of({{"cid", cid}, {"type", 3}}), "\"type\""));
  CHECK(mentions(error_of({{"cid", cid}, {"mode", "deep"}}), "\"mode\""));
  CHECK(mentions(error_of({{"cid", cid}, {"name", 5}}), "\"name\""));
  CHECK(mentions(error_of({{"cid", cid}, {"name", std::string(kMaxNameBytes + 1, 'n')}}),
                 "\"name\""));
  CHECK(mentions(error_of({{"cid", cid}, {"replication_factor_min", 1LL << 40}}),
                 "\"replication_factor_min\""));
  CHECK(mentions(error_of({{"cid", cid}, {"replication_factor_max", "2"}}),
                 "\"replication_factor_max\""));
  CHECK(mentions(error_of({{"cid", cid}, {"allocations", "peer"}}), "\"allocations\""));
  CHECK(mentions(error_of({{"cid", cid}, {"allocations", json::array({1})}}), "\"allocations[]\""));
  CHECK(mentions(error_of({{"cid", cid}, {"origins", json(std::vector<std::string>(17, "/x"))}}),
                 "\"origins\""));
  CHECK(mentions(error_of({{"cid", cid}, {"metadata", {{"k", 1}}}}), "\"metadata.k\""));
  CHECK(mentions(error_of({{"cid", cid}, {"pin_update", 7}}), "\"pin_update\""));
  CHECK(mentions(error_of({{"cid", cid}, {"reference", "zz"}}), "\"reference\""));
  CHECK(mentions(error_of({{"cid", cid}, {"expire_at", "tomorrow"}}), "\"expire_at\""));
  CHECK(mentions(error_of({{"cid", cid}, {"timestamp", "2030-02-30T00:00:00Z"}}), "\"timestamp\""));
  CHECK(mentions(error_of({{"cid", cid}, {"expire_at", "3000-01-01T00:00:00Z"}}), "2262"));
  CHECK(mentions(error_of({{"cid", cid}, {"shard_size", 100}}), "\"shard_size\""));
  CHECK(mentions(error_of({{"cid", cid}, {"max_depth", "x"}}), "\"max_depth\""));
}

TEST_CASE("RFC 3339 times round trip, before and after 1970") {
  for (int64_t t : {int64_t{1}, int64_t{-1}, int64_t{-1'000'000'000'000'000'000},
                    int64_t{9'000'000'000'000'000'000}, int64_t{86'400'000'000'000}}) {
    auto back = parse_rfc3339(format_rfc3339(t));
    REQUIRE(back.is_ok());
    CHECK(*back == t);
  }
  CHECK(format_rfc3339(-1) == "1969-12-31T23:59:59.999999999Z");
  CHECK_FALSE(parse_rfc3339("2030-01-02T15:04:05").is_ok());
  CHECK_FALSE(parse_rfc3339("2030-01-02T15:04:05.Z").is_ok());
  CHECK_FALSE(parse_rfc3339("2030-01-02T15:04:05Zjunk").is_ok());
  CHECK_FALSE(parse_rfc3339("2030-13-02T15:04:05Z").is_ok());
}

TEST_CASE("append_pin_json writes canonical JSON: parsed and dumped again, it is unchanged") {
  auto same = [](const Pin& p) {
    std::string fast = "x";
    append_pin_json(p, fast);
    CHECK(fast == "x" + pin_to_json(p).dump());
  };
  same(full_pin());
  Pin plain;
  plain.cid = content("b");
  same(plain);
  Pin odd = full_pin();
  odd.name = "quote \" backslash \\ tab \t nl \n ctl \x01 é 日本";
  odd.metadata = {{"k\"", "v\\"}, {"ü", "\x7f"}, {"", ""}};
  odd.allocations = {"", "a\"b"};
  odd.origins = {};
  odd.pin_update.reset();
  odd.timestamp = -1;
  odd.expire_at = 0;
  odd.replication_factor_min = odd.replication_factor_max = -1;
  odd.max_depth = -1;
  same(odd);
}
