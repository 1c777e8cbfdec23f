#include <doctest/doctest.h>

#include <random>

#include "net/mux.h"

using namespace trellis;
using namespace trellis::net;

namespace {

Bytes filled(size_t n, uint8_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed + i * 7);
  return b;
}

}  // namespace

TEST_SUITE("mux") {
  TEST_CASE("messages of every size survive chunking, in order per lane") {
    MuxSender tx(64 << 20);
    MuxReceiver rx(4 << 20);
    std::vector<Bytes> sent;
    for (size_t n : {size_t{0}, size_t{1}, kMaxChunkData - 1, kMaxChunkData, kMaxChunkData + 1,
                     size_t{3} * kMaxChunkData + 5}) {
      sent.push_back(filled(n, static_cast<uint8_t>(n)));
      REQUIRE(tx.enqueue(Lane::bulk, sent.back()));
    }
    std::vector<Bytes> got;
    Bytes chunk;
    while (tx.next_chunk(chunk)) {
      CHECK(chunk.size() <= kMaxChunk);
      auto r = rx.on_chunk(chunk);
      REQUIRE(r.is_ok());
      if (*r) got.push_back(std::move((*r)->message));
    }
    CHECK(got == sent);
    CHECK(tx.empty());
    CHECK(rx.buffered() == 0);
  }

  TEST_CASE("a control message overtakes a large bulk transfer") {
    MuxSender tx(64 << 20);
    MuxReceiver rx(4 << 20);
    REQUIRE(tx.enqueue(Lane::bulk, filled(2 << 20, 1)));
    Bytes chunk;
    REQUIRE(tx.next_chunk(chunk));  // the transfer has started
    REQUIRE(rx.on_chunk(chunk).is_ok());
    REQUIRE(tx.enqueue(Lane::control, Bytes{42}));
    REQUIRE(tx.next_chunk(chunk));
    auto r = rx.on_chunk(chunk);
    REQUIRE(r.is_ok());
    REQUIRE(r->has_value());
    CHECK((*r)->lane == Lane::control);
    CHECK((*r)->message == Bytes{42});
    CHECK(rx.buffered() == kMaxChunkData);  // the bulk message is still partial
  }

  TEST_CASE("the send queue is bounded") {
    MuxSender tx(1000);
    CHECK(tx.enqueue(Lane::control, Bytes(600)));
    CHECK_FALSE(tx.enqueue(Lane::bulk, Bytes(401)));
    CHECK(tx.queued_bytes() == 600);
    CHECK(tx.enqueue(Lane::bulk, Bytes(400)));
    CHECK_FALSE(tx.enqueue(Lane::control, Bytes(1)));
    tx.clear();
    CHECK(tx.empty());
  }

  TEST_CASE("malformed and oversize chunks fail the connection") {
    MuxReceiver rx(100);
    CHECK(rx.on_chunk(Bytes{0}).status().message() == "chunk is shorter than its header");
    CHECK(rx.on_chunk(Bytes{2, 1}).status().message() == "chunk names unknown lane 2");
    CHECK(rx.on_chunk(Bytes{0, 2}).status().message() == "chunk has unknown flags");
    Bytes part(2 + 60, 0);
    REQUIRE(rx.on_chunk(part).is_ok());
    auto over = rx.on_chunk(part);
    REQUIRE_FALSE(over.is_ok());
    CHECK(over.status().code() == Code::too_large);
  }

  TEST_CASE("random interleaving of lanes keeps each lane's order") {
    std::mt19937 rng(7);
    MuxSender tx(256 << 20);
    MuxReceiver rx(4 << 20);
    std::vector<Bytes> sent[2], got[2];
    Bytes chunk;
    for (int round = 0; round < 200; ++round) {
      auto lane = static_cast<Lane>(rng() % 2);
      Bytes m = filled(rng() % (lane == Lane::bulk ? 200000 : 300), static_cast<uint8_t>(round));
      sent[static_cast<int>(lane)].push_back(m);
      REQUIRE(tx.enqueue(lane, std::move(m)));
      for (unsigned k = rng() % 4; k > 0 && tx.next_chunk(chunk); --k) {
        auto r = rx.on_chunk(chunk);
        REQUIRE(r.is_ok());
        if (*r) got[static_cast<int>((*r)->lane)].push_back(std::move((*r)->message));
      }
    }
    while (tx.next_chunk(chunk)) {
      auto r = rx.on_chunk(chunk);
      REQUIRE(r.is_ok());
      if (*r) got[static_cast<int>((*r)->lane)].push_back(std::move((*r)->message));
    }
    CHECK(got[0] == sent[0]);
    CHECK(got[1] == sent[1]);
  }
}
