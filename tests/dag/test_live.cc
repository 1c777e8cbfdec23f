// trellis-dag --live, and trellisd data directories (DIR/state, DIR/lock)
// given as STORE_DIR.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "harness.h"

using namespace trellis;
using namespace trellis::dagtest;
using nlohmann::json;

namespace {

// Holds DIR/lock the way trellisd does: an exclusive flock, our PID inside.
class DaemonLock {
 public:
  explicit DaemonLock(const std::string& dir, bool hold = true) {
    fd_ = ::open((dir + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    REQUIRE(fd_ >= 0);
    if (hold) REQUIRE(::flock(fd_, LOCK_EX | LOCK_NB) == 0);
    const std::string pid = std::to_string(::getpid()) + "\n";
    REQUIRE(::pwrite(fd_, pid.data(), pid.size(), 0) == static_cast<ssize_t>(pid.size()));
  }
  ~DaemonLock() { ::close(fd_); }
  DaemonLock(const DaemonLock&) = delete;
  DaemonLock& operator=(const DaemonLock&) = delete;

 private:
  int fd_ = -1;
};

std::vector<json> json_lines(const std::string& out) {
  std::vector<json> v;
  for (const auto& line : lines(out)) v.push_back(json::parse(line));
  return v;
}

}  // namespace

TEST_CASE("--live on a trellisd data directory names the daemon holding DIR/lock") {
  TempDir tmp;
  const std::string dir = tmp.path();
  Built built = build_store(tmp.sub("state"), tmp.sub("peer"));
  DaemonLock lock(dir);

  Run r = dag({"--live", "--count", "2", "--interval", "0.2", "--json", dir, "info"});
  REQUIRE_MESSAGE(r.code == 0, describe(r));
  auto v = json_lines(r.out);
  REQUIRE(v.size() == 4);  // header, info, header, info
  for (size_t i : {0u, 2u}) {
    CHECK(v[i]["snapshot"] == i / 2 + 1);
    CHECK(v[i]["held"] == true);
    CHECK(v[i]["pid"] == ::getpid());
    CHECK(v[i]["lock"] == dir + "/lock");
    CHECK(v[i + 1]["store"] == dir + "/state");
    CHECK(v[i + 1]["keys"] == built.keys.size());
  }

  Run text = dag({"--live", "--count", "2", "--interval", "0.2", dir, "heads"});
  REQUIRE_MESSAGE(text.code == 0, describe(text));
  auto tl = lines(text.out);
  REQUIRE(tl.size() == 2 * (1 + built.heads.size()));
  CHECK(tl[0].starts_with("=== snapshot 1 at "));
  CHECK(tl[0].ends_with(": daemon PID " + std::to_string(::getpid()) + " holds " + dir + "/lock"));
  CHECK(tl[1 + built.heads.size()].starts_with("=== snapshot 2 at "));
}

TEST_CASE("--live sees no daemon when the PID in DIR/lock does not hold it") {
  TempDir tmp;
  build_store(tmp.sub("state"), tmp.sub("peer"));
  DaemonLock stale(tmp.path(), false);
  Run r = dag({"--live", "--count", "1", "--json", tmp.path(), "heads"});
  REQUIRE_MESSAGE(r.code == 0, describe(r));
  json header = json_lines(r.out).at(0);
  CHECK(header["held"] == false);
  CHECK(header["pid"].is_null());
}

TEST_CASE("--live on a store directory reports a writer holding writer.lock") {
  TempDir tmp;
  build_store(tmp.sub("a"), tmp.sub("b"));
  auto writer = open_replica(tmp.sub("a"));  // holds a/writer.lock
  Run r = dag({"--live", "--count", "2", "--interval", "0.2", tmp.sub("a"), "stats"});
  REQUIRE_MESSAGE(r.code == 0, describe(r));
  CHECK(r.out.find("=== snapshot 1 at ") == 0);
  CHECK(r.out.find(": a process (PID unknown) holds " + tmp.sub("a") + "/writer.lock\n") !=
        std::string::npos);
  CHECK(r.out.find("=== snapshot 2 at ") != std::string::npos);
  writer.reset();
  Run free = dag({"--live", "--count", "1", tmp.sub("a"), "heads"});
  CHECK(free.out.find(": no process holds ") != std::string::npos);
}

TEST_CASE("a trellisd data directory works as STORE_DIR without --live too") {
  TempDir tmp;
  std::filesystem::create_directory(tmp.sub("d"));
  Built built = build_store(tmp.sub("d/state"), tmp.sub("peer"));
  Run keys = dag({tmp.sub("d"), "keys"});
  REQUIRE_MESSAGE(keys.code == 0, describe(keys));
  CHECK(lines(keys.out).size() == built.keys.size());
  // diff accepts one as STORE_B; a store equals itself.
  Run same = dag({tmp.sub("d/state"), "diff", tmp.sub("d")});
  CHECK_MESSAGE(same.code == 0, describe(same));
}

TEST_CASE("--live usage errors") {
  TempDir tmp;
  build_store(tmp.sub("a"), tmp.sub("b"));
  CHECK(dag({"--count", "2", tmp.sub("a"), "info"}).code == 2);
  CHECK(dag({"--live", "--interval", "0", tmp.sub("a"), "info"}).code == 2);
  CHECK(dag({"--live", "--count", "x", tmp.sub("a"), "info"}).code == 2);
  Run ex = dag({"--live", tmp.sub("a"), "export", tmp.sub("x.car")});
  CHECK(ex.code == 2);
  CHECK(ex.err.find("--live repeats a command that only reads") != std::string::npos);
  // A usage error of the command stops the loop at once.
  Run bad = dag({"--live", "--interval", "0.2", tmp.sub("a"), "stats", "--buckets", "0"});
  CHECK(bad.code == 2);
  CHECK(lines(bad.out).size() == 1);  // the first header only
}
