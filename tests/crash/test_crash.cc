// kill -9 at random moments: acknowledged writes survive, an interrupted
// walk resumes, and no merged block is ever left unreachable from a head
// (the go-ds-crdt #279 bug).
#include <doctest/doctest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <map>
#include <random>
#include <set>
#include <string>

#include "../unit/tempdir.h"
#include "crdt/replica.h"

using namespace trellis;
using trellis::testing::TempDir;

namespace {

struct Child {
  pid_t pid = -1;
  int out = -1;
  std::string buffer;
};

Child spawn(const std::vector<std::string>& args) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  Child c;
  c.pid = fork();
  REQUIRE(c.pid >= 0);
  if (c.pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    std::vector<char*> argv{const_cast<char*>(CRASH_CHILD)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(CRASH_CHILD, argv.data());
    _exit(127);
  }
  close(fds[1]);
  c.out = fds[0];
  return c;
}

// Reads the child's output lines until the deadline or EOF; calls fn on each.
template <class F>
bool read_lines(Child& c, std::chrono::milliseconds budget, F&& fn) {
  auto deadline = std::chrono::steady_clock::now() + budget;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return true;
    pollfd p{c.out, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    ssize_t n = read(c.out, buf, sizeof buf);
    if (n <= 0) return false;  // EOF: the child exited
    c.buffer.append(buf, static_cast<size_t>(n));
    size_t nl;
    while ((nl = c.buffer.find('\n')) != std::string::npos) {
      fn(c.buffer.substr(0, nl));
      c.buffer.erase(0, nl + 1);
    }
  }
}

int kill_and_reap(Child& c) {
  kill(c.pid, SIGKILL);
  int status = 0;
  waitpid(c.pid, &status, 0);
  close(c.out);
  return status;
}

// Every merged block is reachable from a head, every block reachable from a
// head is merged, and nothing is left half-done.
void check_invariants(Replica& r) {
  std::set<Bytes> seen;
  size_t merged = 0;
  REQUIRE(r.store().read([&](const Txn& t) {
    const Dbs& d = r.store().dbs();
    merged = t.count(d.merged);
    std::deque<Bytes> todo;
    Cursor c(t, d.heads);
    for (bool ok = c.first(); ok; ok = c.next()) todo.emplace_back(c.key().begin(), c.key().end());
    while (!todo.empty()) {
      Bytes cid = std::move(todo.front());
      todo.pop_front();
      if (!seen.insert(cid).second) continue;
      CHECK(t.has(d.merged, cid));
      auto bytes = t.get(d.blocks, cid);
      REQUIRE(bytes);
      auto block = decode_block(*bytes);
      REQUIRE(block.is_ok());
      for (const auto& l : block->links) todo.push_back(l.bytes());
    }
    CHECK(t.count(d.ready) == 0);
    return Status::ok();
  }).is_ok());
  CHECK(seen.size() == merged);
}

}  // namespace

TEST_CASE("acknowledged writes survive kill -9") {
  TempDir dir;
  std::mt19937 rng(42);
  long next = 0;
  for (int round = 0; round < 20; ++round) {
    Child c = spawn({"write", dir.path(), std::to_string(next)});
    long acked = next - 1;
    auto ms = std::chrono::milliseconds(std::uniform_int_distribution<int>(5, 120)(rng));
    read_lines(c, ms, [&](const std::string& line) {
      if (line.rfind("ack ", 0) == 0) acked = std::stol(line.substr(4));
    });
    kill_and_reap(c);
    auto r = Replica::open(dir.path(), {});
    REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    for (long k = 0; k <= acked; ++k) {
      auto v = (*r)->get("k" + std::to_string(k));
      REQUIRE(v.is_ok());
      REQUIRE_MESSAGE(v->has_value(), "acknowledged key k" << k << " lost in round " << round);
    }
    check_invariants(**r);
    next = acked + 1;
  }
  MESSAGE("keys acknowledged across 20 kills: " << next);
}

TEST_CASE("a DAG walk killed at random moments resumes and converges") {
  TempDir dir;
  std::string src_dir = dir.sub("src"), dst_dir = dir.sub("dst");
  {
    ReplicaOptions o;
    o.sync = false;
    auto a = Replica::open(src_dir, o);
    REQUIRE(a.is_ok());
    for (int i = 0; i < 600; ++i)
      REQUIRE((*a)->put("k" + std::to_string(i % 97), as_bytes(std::to_string(i))).is_ok());
  }
  std::mt19937 rng(7);
  bool done = false;
  int kills = 0;
  // 60 runs killed after 2–40 ms each, then one left to finish (slow builds,
  // e.g. ASan, may need it).
  for (int round = 0; round <= 60 && !done; ++round) {
    Child c = spawn({"sync", src_dir, dst_dir});
    auto ms = round < 60 ? std::chrono::milliseconds(std::uniform_int_distribution<int>(2, 40)(rng))
                         : std::chrono::milliseconds(300'000);
    bool alive = read_lines(c, ms, [&](const std::string& line) { done = done || line == "done"; });
    if (done || !alive) {
      int status = 0;
      waitpid(c.pid, &status, 0);
      close(c.out);
      REQUIRE(WIFEXITED(status));
      REQUIRE(WEXITSTATUS(status) == 0);
    } else {
      kill_and_reap(c);
      ++kills;
      auto r = Replica::open(dst_dir, {});
      REQUIRE(r.is_ok());
      check_invariants(**r);
    }
  }
  REQUIRE(done);
  CHECK(kills > 0);
  MESSAGE("walk finished after " << kills << " kills");
  ReplicaOptions ro;
  ro.read_only = true;
  auto src = Replica::open(src_dir, ro);
  auto dst = Replica::open(dst_dir, {});
  REQUIRE((src.is_ok() && dst.is_ok()));
  CHECK(*(*src)->heads() == *(*dst)->heads());
  std::map<std::string, Bytes> a, b;
  REQUIRE((*src)->scan("", [&](std::string_view k, ByteView v) {
    a.emplace(k, Bytes(v.begin(), v.end()));
    return true;
  }).is_ok());
  REQUIRE((*dst)->scan("", [&](std::string_view k, ByteView v) {
    b.emplace(k, Bytes(v.begin(), v.end()));
    return true;
  }).is_ok());
  CHECK(a == b);
  check_invariants(**dst);
}
