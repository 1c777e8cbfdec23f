// PinLister, the body of GET /allocations: every pin of a real replica in
// key order, as append_pin_json writes it, across many pages formatted on
// worker threads; a value that does not decode is skipped; a client that
// goes away ends the listing early, and the lister can then be destroyed.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "daemon/pin_listing.h"
#include "pinning/pin_json.h"
#include "tempdir.h"

using namespace trellis;
using namespace trellis::pinning;

namespace {

// Keeps what a listing sends; takes `accept` items, then acts as a client
// that has gone.
struct Collector : http::Responder {
  std::vector<std::string> items;
  size_t accept = SIZE_MAX;
  bool ended = false;
  std::string error;

  net::awaitable<void> reply(int, std::string, std::string, http::Headers) override { co_return; }
  net::awaitable<bool> item(std::string line) override {
    if (items.size() >= accept) co_return false;
    items.push_back(std::move(line));
    co_return true;
  }
  net::awaitable<void> end(std::string e, int) override {
    ended = true;
    error = std::move(e);
    co_return;
  }
};

Pin pin_of(int i) {
  std::string s = "listing " + std::to_string(i);
  Pin p;
  p.cid = Cid::sha256(kCodecRaw, ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
  p.name = s;
  p.allocations = {"12D3KooWA", "12D3KooWB"};
  p.metadata = {{"n", std::to_string(i)}};
  p.timestamp = int64_t{1'700'000'000} * 1'000'000'000 + i;
  return p;
}

void run(net::asio::io_context& io, PinLister& lister, const PinSource& pins, Collector& c) {
  net::asio::co_spawn(io, lister.write(pins, c), net::asio::detached);
  io.restart();
  io.run();
}

}  // namespace

TEST_CASE("the pin listing is every pin in key order, over many pages and threads") {
  testing::TempDir dir;
  auto replica = Replica::open(dir.sub("replica"), ReplicaOptions{});
  REQUIRE(replica.is_ok());
  ReplicaPins pins(**replica);
  net::asio::io_context io;
  PinLister lister(3);

  Collector empty;
  run(io, lister, pins, empty);
  CHECK(empty.ended);
  CHECK(empty.items.empty());

  std::map<std::string, std::string> expect;  // pin key → its JSON line
  Batch batch;
  for (int i = 0; i < 2000; ++i) {
    Pin p = pin_of(i);
    std::string line;
    append_pin_json(p, line);
    expect.emplace(pin_key(p.cid), line);
    REQUIRE(batch.put(pin_key(p.cid), encode_pin(p)));
  }
  const uint8_t junk[] = {0x93, 0x01, 0x02};
  REQUIRE(batch.put(std::string(kPinPrefix) + "bafkjunk", ByteView(junk, sizeof junk)));
  REQUIRE((*replica)->commit(batch).is_ok());

  Collector all;
  run(io, lister, pins, all);
  CHECK(all.ended);
  CHECK(all.error.empty());
  CHECK(all.items.size() > 4);  // several pages
  std::string want;
  for (const auto& [key, line] : expect) want += (want.empty() ? "" : "\n") + line;
  std::string got;
  for (const auto& item : all.items) got += (got.empty() ? "" : "\n") + item;
  CHECK(got == want);  // the junk value is skipped

  Collector gone;
  gone.accept = 1;
  run(io, lister, pins, gone);
  CHECK(gone.items.size() == 1);
  CHECK_FALSE(gone.ended);
}
