// GroupCommit: writes that arrive together share one commit (one block),
// a lone write commits at once, a failed commit fails every writer of its
// round, and every acknowledged write is in the replica.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "daemon/group_commit.h"
#include "tempdir.h"

using namespace trellis;

namespace {

struct Fixture {
  testing::TempDir dir;
  net::asio::io_context io;
  bool fail = false;
  std::unique_ptr<Replica> replica;
  size_t announced = 0;
  std::unique_ptr<GroupCommit> writer;

  Fixture() {
    ReplicaOptions ro;
    ro.fail_write = [this] { return fail; };
    auto r = Replica::open(dir.sub("replica"), ro);
    REQUIRE(r.is_ok());
    replica = std::move(*r);
    writer = std::make_unique<GroupCommit>(io, *replica, [this] { ++announced; });
  }

  // Starts `n` writers of keys prefix0..prefix{n-1}; runs the loop until all
  // are done; returns how many succeeded.
  size_t write_all(size_t n, const std::string& prefix) {
    size_t ok = 0;
    for (size_t i = 0; i < n; ++i) {
      net::asio::co_spawn(
          io,
          [&, i]() -> net::awaitable<void> {
            std::string key = prefix + std::to_string(i);
            Bytes value(100, static_cast<uint8_t>(i));
            Status st = co_await writer->put(std::move(key), std::move(value));
            if (st) ++ok;
          },
          net::asio::detached);
    }
    io.restart();
    io.run();
    return ok;
  }

  size_t blocks() { return replica->info()->blocks; }
};

}  // namespace

TEST_CASE("group commit: 200 concurrent writes become one block, one announcement") {
  Fixture f;
  CHECK(f.write_all(200, "k") == 200);
  CHECK(f.writer->counters().rounds == 1);
  CHECK(f.writer->counters().writes == 200);
  CHECK(f.blocks() == 1);
  CHECK(f.announced == 1);
  for (size_t i = 0; i < 200; ++i) {
    auto v = f.replica->get("k" + std::to_string(i));
    REQUIRE(v.is_ok());
    CHECK(v->has_value());
  }
}

TEST_CASE("group commit: a lone write commits in a round of its own") {
  Fixture f;
  CHECK(f.write_all(1, "a") == 1);
  CHECK(f.write_all(1, "b") == 1);
  CHECK(f.writer->counters().rounds == 2);
  CHECK(f.blocks() == 2);
  CHECK(f.announced == 2);
}

TEST_CASE("group commit: removes join the round; removing an absent key announces nothing") {
  Fixture f;
  CHECK(f.write_all(3, "k") == 3);
  Status removed = Status(Code::unavailable, "not run");
  net::asio::co_spawn(
      f.io,
      [&]() -> net::awaitable<void> {
        std::string key = "k1", absent = "nope";
        removed = co_await f.writer->remove(std::move(key));
        Status st = co_await f.writer->remove(std::move(absent));
        CHECK(st.is_ok());
      },
      net::asio::detached);
  f.io.restart();
  f.io.run();
  CHECK(removed.is_ok());
  CHECK(!f.replica->get("k1")->has_value());
  CHECK(f.replica->get("k2")->has_value());
  CHECK(f.announced == 2);  // the puts and the remove of k1, not the no-op
}

TEST_CASE("group commit: write_all lands every write in one round, or none when one is bad") {
  Fixture f;
  CHECK(f.write_all(1, "pin") == 1);
  Status both = Status(Code::unavailable, "not run"), bad = both;
  net::asio::co_spawn(
      f.io,
      [&]() -> net::awaitable<void> {
        std::vector<GroupCommit::Write> writes;
        writes.push_back({"pin0", std::nullopt});
        writes.push_back({"marker0", Bytes{1, 2, 3}});
        both = co_await f.writer->write_all(std::move(writes));
        std::vector<GroupCommit::Write> invalid;
        invalid.push_back({"fine", Bytes{1}});
        invalid.push_back({"", Bytes{1}});  // an empty key is refused
        bad = co_await f.writer->write_all(std::move(invalid));
      },
      net::asio::detached);
  f.io.restart();
  f.io.run();
  CHECK(both.is_ok());
  CHECK(!f.replica->get("pin0")->has_value());
  CHECK(f.replica->get("marker0")->has_value());
  CHECK(f.announced == 2);  // the first put, then the remove and marker together
  CHECK_FALSE(bad.is_ok());
  CHECK(!f.replica->get("fine")->has_value());
}

TEST_CASE("group commit: a failed commit fails every writer of the round, and the next round works") {
  Fixture f;
  f.fail = true;
  CHECK(f.write_all(50, "x") == 0);
  CHECK(f.blocks() == 0);
  CHECK(f.announced == 0);
  f.fail = false;
  CHECK(f.write_all(50, "y") == 50);
  CHECK(f.blocks() == 1);
  CHECK(!f.replica->get("x0")->has_value());
}
