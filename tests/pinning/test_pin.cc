// The pin model: deterministic encoding, bounded decoding, validation and
// the IPFS Cluster rules prepare() applies to a pin request.
#include <doctest/doctest.h>

#include "content.h"
#include "crdt/pack.h"
#include "pinning/pin.h"

using namespace trellis;
using namespace trellis::pinning;
using testing::content;

namespace {

constexpr int64_t kNow = 1'800'000'000'000'000'000;

Pin full_pin() {
  Pin p;
  p.cid = content("a");
  p.name = "photos";
  p.replication_factor_min = 2;
  p.replication_factor_max = 3;
  p.allocations = {"12D3KooWA", "12D3KooWB"};
  p.user_allocations = {"12D3KooWB"};
  p.expire_at = kNow + 1000;
  p.metadata = {{"z", "last"}, {"a", "first"}};
  p.pin_update = content("old");
  p.origins = {"/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWC"};
  p.reference = content("ref");
  p.timestamp = kNow;
  return p;
}

Pin request(const char* s) {
  Pin p;
  p.cid = content(s);
  return p;
}

}  // namespace

TEST_CASE("a pin round-trips through its encoding, byte for byte") {
  Pin p = full_pin();
  Bytes a = encode_pin(p);
  auto back = decode_pin(a);
  REQUIRE(back.is_ok());
  CHECK(*back == p);
  CHECK(encode_pin(*back) == a);
  // The same pin built in another order encodes to the same bytes.
  Pin q = full_pin();
  q.metadata.clear();
  q.metadata["a"] = "first";
  q.metadata["z"] = "last";
  CHECK(encode_pin(q) == a);
  Pin d = request("d");
  d.mode = Mode::direct;
  d.max_depth = 0;
  auto dd = decode_pin(encode_pin(d));
  REQUIRE(dd.is_ok());
  CHECK(dd->mode == Mode::direct);
  CHECK(!dd->pin_update.has_value());
}

TEST_CASE("malformed pin bytes fail with a clear error") {
  Bytes good = encode_pin(full_pin());
  // Every truncation fails, none throws.
  for (size_t n = 0; n < good.size(); n++) {
    auto r = decode_pin(ByteView(good.data(), n));
    CHECK_FALSE(r.is_ok());
  }
  CHECK(decode_pin(ByteView(good.data(), 3)).status().message().find("truncated") !=
        std::string::npos);
  Bytes trailing = good;
  trailing.push_back(0);
  CHECK(decode_pin(trailing).status().message().find("trailing") != std::string::npos);
  Bytes v2 = good;
  v2[3] = 2;  // the version, after the array16 header (0xdc, 2 bytes of count)
  auto r = decode_pin(v2);
  CHECK(r.status().code() == Code::unsupported);
  Bytes huge(kMaxEncodedPin + 1, 0);
  CHECK(decode_pin(huge).status().code() == Code::too_large);
  // A stored pin that breaks the rules is corrupt, not accepted.
  Pin bad = full_pin();
  bad.replication_factor_min = 5;
  CHECK(decode_pin(encode_pin(bad)).status().code() == Code::corrupt);
}

TEST_CASE("a pin whose integers use wider msgpack forms decodes to the same pin") {
  // encode_pin writes the shortest forms; another writer may not. Every
  // integer here takes a fixed-width form (0xcc…0xcf, 0xd0…0xd3).
  Pin p = full_pin();
  p.max_depth = -1;
  msgpack::sbuffer buf;
  pack::Packer pk(buf);
  pk.pack_array(16);
  pk.pack_fix_uint64(kPinVersion);
  pack::bin(pk, p.cid.view());
  pk.pack_fix_uint16(static_cast<uint16_t>(p.type));
  pack::str(pk, p.name);
  pk.pack_fix_uint32(static_cast<uint32_t>(p.mode));
  pk.pack_fix_int64(p.replication_factor_min);
  pk.pack_fix_int16(static_cast<int16_t>(p.replication_factor_max));
  for (const auto* v : {&p.allocations, &p.user_allocations}) {
    pk.pack_array(static_cast<uint32_t>(v->size()));
    for (const auto& s : *v) pack::str(pk, s);
  }
  pk.pack_fix_int64(p.expire_at);
  pk.pack_map(static_cast<uint32_t>(p.metadata.size()));
  for (const auto& [k, v] : p.metadata) {
    pack::str(pk, k);
    pack::str(pk, v);
  }
  if (p.pin_update)
    pack::bin(pk, p.pin_update->view());
  else
    pk.pack_nil();
  pk.pack_array(static_cast<uint32_t>(p.origins.size()));
  for (const auto& s : p.origins) pack::str(pk, s);
  pk.pack_fix_int8(static_cast<int8_t>(p.max_depth));
  if (p.reference)
    pack::bin(pk, p.reference->view());
  else
    pk.pack_nil();
  pk.pack_fix_uint64(static_cast<uint64_t>(p.timestamp));
  Bytes wide = pack::to_bytes(buf);
  REQUIRE(wide != encode_pin(p));
  auto back = decode_pin(wide);
  REQUIRE_MESSAGE(back.is_ok(), back.status().to_string());
  CHECK(*back == p);
}

TEST_CASE("pin keys carry the CID") {
  Cid c = content("k");
  CHECK(pin_key(c) == "/pins/" + c.to_string());
  auto back = cid_of_key(pin_key(c));
  REQUIRE(back.is_ok());
  CHECK(*back == c);
  CHECK_FALSE(cid_of_key("/other/x").is_ok());
  CHECK_FALSE(cid_of_key("/pins/notacid").is_ok());
}

TEST_CASE("removal markers: /removed/<cid> holding the removed pin's timestamp") {
  Cid c = content("marker");
  CHECK(removed_key(c) == "/removed/" + c.to_string());
  for (int64_t ts : {int64_t{0}, kNow, int64_t{-1}}) {
    Bytes b = encode_removed(ts);
    CHECK(b.size() == 8);
    CHECK(decode_removed(b) == ts);
  }
  Bytes nine(9, 0);
  CHECK_FALSE(decode_removed(ByteView(nine.data(), 7)).has_value());
  CHECK_FALSE(decode_removed(nine).has_value());
  CHECK_FALSE(decode_removed(ByteView()).has_value());
}

TEST_CASE("validation enforces IPFS Cluster's rules with messages that say why") {
  Pin p = request("v");
  p.replication_factor_min = 3;
  p.replication_factor_max = 2;
  CHECK(validate(p).message().find("min (3) is larger than max (2)") != std::string::npos);
  p.replication_factor_min = -1;
  p.replication_factor_max = 2;
  CHECK(validate(p).message().find("both") != std::string::npos);
  p.replication_factor_min = -1;
  p.replication_factor_max = -1;
  CHECK(validate(p).is_ok());
  p.replication_factor_min = -2;
  p.replication_factor_max = -2;
  CHECK_FALSE(validate(p).is_ok());
  Pin d = request("d");
  d.mode = Mode::direct;
  CHECK(validate(d).message().find("max_depth 0") != std::string::npos);
  Pin n = request("n");
  n.name.assign(kMaxNameBytes + 1, 'x');
  CHECK_FALSE(validate(n).is_ok());
  Pin a = request("a");
  a.allocations = {"p1", "p1"};
  CHECK(validate(a).message().find("twice") != std::string::npos);
  // Past 16 entries repeats are found by sorting, not pairwise.
  Pin many = request("many");
  for (int i = 0; i < 40; i++) many.allocations.push_back("peer-" + std::to_string(i));
  CHECK(validate(many).is_ok());
  many.allocations.push_back("peer-7");
  CHECK(validate(many).message().find("twice") != std::string::npos);
  Pin m = request("m");
  for (size_t i = 0; i <= kMaxMetadataEntries; i++) m.metadata["k" + std::to_string(i)] = "v";
  CHECK_FALSE(validate(m).is_ok());
  CHECK_FALSE(validate(Pin{}).is_ok());
  CHECK(parse_mode("direct").is_ok());
  CHECK(parse_mode("sideways").status().message().find("recursive or direct") !=
        std::string::npos);
}

TEST_CASE("prepare resolves defaults, refuses past expiry and downgrades") {
  PinDefaults everywhere;  // -1 / -1
  PinDefaults two{2, 3};

  auto e = prepare(request("a"), std::nullopt, std::nullopt, everywhere, kNow);
  REQUIRE(e.is_ok());
  CHECK(e->everywhere());
  CHECK(e->replication_factor_max == -1);
  CHECK(e->timestamp == kNow);

  auto t = prepare(request("a"), std::nullopt, std::nullopt, two, kNow);
  REQUIRE(t.is_ok());
  CHECK(t->replication_factor_min == 2);
  CHECK(t->replication_factor_max == 3);

  // One factor given with an "everywhere" default: the other follows it.
  Pin min_only = request("a");
  min_only.replication_factor_min = 2;
  auto mo = prepare(min_only, std::nullopt, std::nullopt, everywhere, kNow);
  REQUIRE(mo.is_ok());
  CHECK(mo->replication_factor_max == 2);
  Pin max_only = request("a");
  max_only.replication_factor_max = 4;
  auto xo = prepare(max_only, std::nullopt, std::nullopt, everywhere, kNow);
  REQUIRE(xo.is_ok());
  CHECK(xo->replication_factor_min == 1);
  CHECK(xo->replication_factor_max == 4);
  // Min above a default max: max rises to min.
  Pin big = request("a");
  big.replication_factor_min = 5;
  auto bg = prepare(big, std::nullopt, std::nullopt, two, kNow);
  REQUIRE(bg.is_ok());
  CHECK(bg->replication_factor_max == 5);
  // Max below a default min is an error that names both.
  Pin small = request("a");
  small.replication_factor_max = 1;
  auto sm = prepare(small, std::nullopt, std::nullopt, two, kNow);
  CHECK(sm.status().message().find("min (2) is larger than max (1)") != std::string::npos);

  Pin past = request("a");
  past.expire_at = kNow - 1;
  CHECK(prepare(past, std::nullopt, std::nullopt, two, kNow).status().message().find("past") !=
        std::string::npos);
  Pin future = request("a");
  future.expire_at = kNow + 1;
  CHECK(prepare(future, std::nullopt, std::nullopt, two, kNow).is_ok());

  Pin existing = *t;
  Pin direct = request("a");
  direct.mode = Mode::direct;
  auto down = prepare(direct, existing, std::nullopt, two, kNow);
  CHECK(down.status().message().find("downgrade") != std::string::npos);
  auto fresh_direct = prepare(direct, std::nullopt, std::nullopt, two, kNow);
  REQUIRE(fresh_direct.is_ok());
  CHECK(fresh_direct->max_depth == 0);
  // Direct → recursive is an upgrade and allowed.
  Pin rec = request("a");
  CHECK(prepare(rec, *fresh_direct, std::nullopt, two, kNow).is_ok());
}

TEST_CASE("pin_update copies the old pin's allocations and factors") {
  PinDefaults defaults{1, 1};
  Pin old = request("old");
  old.replication_factor_min = 2;
  old.replication_factor_max = 2;
  old.allocations = {"p1", "p2"};
  old.user_allocations = {"p2"};
  Pin upd = request("new");
  upd.pin_update = old.cid;
  upd.replication_factor_min = 5;  // ignored: the update keeps the old placement
  upd.replication_factor_max = 5;
  auto r = prepare(upd, std::nullopt, old, defaults, kNow);
  REQUIRE(r.is_ok());
  CHECK(r->allocations == old.allocations);
  CHECK(r->user_allocations == old.user_allocations);
  CHECK(r->replication_factor_min == 2);
  CHECK(r->replication_factor_max == 2);
  CHECK(r->pin_update == old.cid);
  auto missing = prepare(upd, std::nullopt, std::nullopt, defaults, kNow);
  CHECK(missing.status().code() == Code::not_found);
  CHECK(missing.status().message().find("not pinned") != std::string::npos);
}

TEST_CASE("allocated_to: listed peers, or everyone") {
  Pin p = request("x");
  p.replication_factor_min = 1;
  p.replication_factor_max = 1;
  p.allocations = {"p1"};
  CHECK(p.allocated_to("p1"));
  CHECK_FALSE(p.allocated_to("p2"));
  p.replication_factor_min = p.replication_factor_max = -1;
  p.allocations.clear();
  CHECK(p.allocated_to("p2"));
}
