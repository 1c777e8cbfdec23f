// Block codec: round trips, canonical form, and a clear error for each
// malformed input.
#include <doctest/doctest.h>

#include <msgpack.hpp>

#include <algorithm>

#include "crdt/block.h"

using namespace trellis;

namespace {

Cid cid_of(std::string_view s) { return Cid::of_block(as_bytes(s)); }

Block sample() {
  Block b;
  b.links = {cid_of("a"), cid_of("b")};
  std::sort(b.links.begin(), b.links.end());
  b.delta.priority = 7;
  b.delta.elements = {{"/pins/x", Bytes{1, 2, 3}}, {"/pins/y", Bytes{}}};
  b.delta.tombstones = {{"/pins/z", cid_of("c")}};
  return b;
}

// Encodes an arbitrary msgpack value for negative tests.
template <class F>
Bytes pack(F&& f) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  f(pk);
  auto* p = reinterpret_cast<const uint8_t*>(buf.data());
  return Bytes(p, p + buf.size());
}

void expect_error(const Bytes& bytes, Code code, std::string_view fragment) {
  auto r = decode_block(bytes);
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().code() == code);
  INFO(r.status().message());
  CHECK(r.status().message().find(fragment) != std::string::npos);
}

}  // namespace

TEST_CASE("block round trip is exact and deterministic") {
  Block b = sample();
  Bytes enc = encode_block(b);
  auto dec = decode_block(enc);
  REQUIRE(dec.is_ok());
  CHECK(*dec == b);
  CHECK(encode_block(*dec) == enc);
  CHECK(Cid::of_block(enc) == Cid::of_block(encode_block(sample())));
}

TEST_CASE("block CIDs are CIDv1 messagepack sha2-256") {
  Cid c = Cid::of_block(encode_block(sample()));
  CHECK(c.version() == 1);
  CHECK(c.codec() == kCodecMessagePack);
  CHECK(c.hash().code == kHashSha256);
  CHECK(c.to_string().front() == 'b');
}

TEST_CASE("malformed blocks give clear errors") {
  expect_error({}, Code::corrupt, "empty");
  Bytes enc = encode_block(sample());
  for (size_t cut : {size_t{1}, enc.size() / 2, enc.size() - 1})
    expect_error(Bytes(enc.begin(), enc.begin() + static_cast<long>(cut)), Code::corrupt,
                 "truncated");
  Bytes trailing = enc;
  trailing.push_back(0);
  expect_error(trailing, Code::corrupt, "trailing");
  expect_error(pack([](auto& pk) { pk.pack_map(0); }), Code::corrupt, "not an array");
  expect_error(pack([](auto& pk) {
                 pk.pack_array(5);
                 pk.pack_uint64(2);
                 for (int i = 0; i < 4; ++i) pk.pack_array(0);
               }),
               Code::unsupported, "version 2");
  expect_error(pack([](auto& pk) {
                 pk.pack_array(3);
                 pk.pack_uint64(1);
                 pk.pack_array(0);
                 pk.pack_uint64(1);
               }),
               Code::corrupt, "3 fields");
  // priority 0
  expect_error(pack([](auto& pk) {
                 pk.pack_array(5);
                 pk.pack_uint64(1);
                 pk.pack_array(0);
                 pk.pack_uint64(0);
                 pk.pack_array(0);
                 pk.pack_array(0);
               }),
               Code::corrupt, "priority");
}

TEST_CASE("non-canonical blocks are refused") {
  Block b = sample();
  std::swap(b.links[0], b.links[1]);
  expect_error(encode_block(b), Code::corrupt, "links are not strictly increasing");
  b = sample();
  b.links[1] = b.links[0];
  expect_error(encode_block(b), Code::corrupt, "links are not strictly increasing");
  b = sample();
  std::swap(b.delta.elements[0], b.delta.elements[1]);
  expect_error(encode_block(b), Code::corrupt, "elements are not strictly increasing");
  b = sample();
  b.delta.tombstones.push_back(b.delta.tombstones[0]);
  expect_error(encode_block(b), Code::corrupt, "tombstones are not strictly increasing");
}

TEST_CASE("keys are checked") {
  CHECK(check_key("/pins/x").is_ok());
  CHECK_FALSE(check_key("").is_ok());
  CHECK_FALSE(check_key(std::string("a\0b", 3)).is_ok());
  CHECK_FALSE(check_key(std::string(kMaxKeyBytes + 1, 'k')).is_ok());
  Block b = sample();
  b.delta.elements[0].key = std::string("a\0b", 3);
  expect_error(encode_block(b), Code::corrupt, "NUL");
}

TEST_CASE("bounds are enforced") {
  Block b = sample();
  b.links.clear();
  for (size_t i = 0; i <= kMaxLinks; ++i) b.links.push_back(cid_of(std::to_string(i)));
  std::sort(b.links.begin(), b.links.end());
  expect_error(encode_block(b), Code::too_large, "links");

  Bytes huge(kMaxBlockBytes + 1, 0x90);
  expect_error(huge, Code::too_large, "limit");

  // A link that is not a Trellis block CID (dag-pb).
  b = sample();
  b.links = {Cid::sha256(kCodecDagPb, as_bytes("x"))};
  expect_error(encode_block(b), Code::corrupt, "not a Trellis block CID");

  // Deep nesting is cut off by the parser's depth limit.
  Bytes deep = pack([](auto& pk) {
    pk.pack_array(5);
    pk.pack_uint64(1);
    for (int i = 0; i < 40; ++i) pk.pack_array(1);
    pk.pack_uint64(1);
  });
  CHECK_FALSE(decode_block(deep).is_ok());
}
