#include <doctest/doctest.h>

#include "crdt/pack.h"
#include "net/wire.h"

using namespace trellis;
using namespace trellis::net;

namespace {

Bytes pack_with(const std::function<void(pack::Packer&)>& fn) {
  msgpack::sbuffer buf;
  pack::Packer pk(buf);
  fn(pk);
  return pack::to_bytes(buf);
}

std::string error_of(ByteView bytes) {
  auto m = decode(bytes);
  REQUIRE_FALSE(m.is_ok());
  return m.status().message();
}

}  // namespace

TEST_SUITE("wire") {
  TEST_CASE("every message type round-trips") {
    std::vector<Message> all = {
        Hello{1, "trellis/0.1.0", {"/ip4/127.0.0.1/tcp/9096", "/ip4/10.0.0.1/tcp/9096"}},
        Ping{42},
        Pong{UINT64_MAX},
        Publish{Bytes{1, 2, 3}},
        Request{7, "blocks.get", Bytes(1000, 9)},
        StreamData{7, Bytes(70000, 1)},
        Response{7, Code::not_found, "no such block", {}},
        Response{8, Code::ok, "", Bytes{5}},
        Cancel{9},
    };
    for (const auto& m : all) {
      CAPTURE(message_name(m));
      auto back = decode(encode(m));
      REQUIRE(back.is_ok());
      CHECK(*back == m);
    }
  }

  TEST_CASE("malformed messages are refused with a reason") {
    CHECK(error_of({}) == "message is empty");
    CHECK(error_of(Bytes{0x92}) == "message is truncated");
    CHECK(error_of(pack_with([](auto& pk) { pk.pack_uint8(1); })) == "message is not an array");
    CHECK(error_of(pack_with([](auto& pk) { pk.pack_array(0); })) == "message is an empty array");
    CHECK(error_of(pack_with([](auto& pk) {
            pk.pack_array(2);
            pk.pack_uint8(99);
            pk.pack_uint8(0);
          })) == "message type 99 is unknown");
    CHECK(error_of(pack_with([](auto& pk) {
            pk.pack_array(3);
            pk.pack_uint8(2);
            pk.pack_uint8(0);
            pk.pack_uint8(0);
          })) == "ping message has 3 fields, expected 2");
    CHECK(error_of(pack_with([](auto& pk) {
            pk.pack_array(2);
            pk.pack_uint8(4);
            pack::str(pk, "not bin");
          })) == "published message is not binary");
    CHECK(error_of(pack_with([](auto& pk) {
            pk.pack_array(5);
            pk.pack_uint8(7);
            pk.pack_uint8(1);
            pk.pack_uint8(200);
            pack::str(pk, "");
            pack::bin(pk, {});
          })) == "response code 200 is unknown");
    Bytes good = encode(Ping{1});
    good.push_back(0);
    CHECK(error_of(good) == "message has 1 trailing bytes");
  }

  TEST_CASE("bounds: method, agent, addresses, message size") {
    CHECK(error_of(encode(Request{1, std::string(65, 'm'), {}})) ==
          "method is 65 bytes, limit 64");
    CHECK(error_of(encode(Hello{1, std::string(129, 'a'), {}})) ==
          "hello agent is 129 bytes, limit 128");
    Hello many{1, "a", std::vector<std::string>(9, "/ip4/1.2.3.4/tcp/1")};
    CHECK(error_of(encode(many)) == "hello lists 9 listen addresses, limit 8");
    auto big = decode(encode(StreamData{1, Bytes(kMaxMessageBytes, 0)}));
    REQUIRE_FALSE(big.is_ok());
    CHECK(big.status().code() == Code::too_large);
    // A huge declared length with no bytes behind it is only "truncated".
    CHECK(error_of(Bytes{0x92, 0x06, 0xc6, 0x7f, 0xff, 0xff, 0xff}) == "message is truncated");
  }
}
