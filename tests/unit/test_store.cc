// LMDB store: named databases, map growth, one writer, concurrent readers.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crdt/store.h"
#include "tempdir.h"

using namespace trellis;
using trellis::testing::TempDir;

namespace {

Bytes key_of(size_t i) {
  Bytes k;
  put_u64be(k, i);
  return k;
}

}  // namespace

TEST_CASE("the map grows instead of failing") {
  TempDir dir;
  StoreOptions opts;
  opts.initial_map_size = 64 * 1024;
  opts.sync = false;
  auto store = Store::open(dir.path(), opts);
  REQUIRE(store.is_ok());
  size_t before = (*store)->map_size();
  Bytes value(1000, 7);
  // ~4 MB into a 64 KiB map, in one transaction and then in many.
  REQUIRE((*store)->write([&](Txn& t) {
    for (size_t i = 0; i < 2000; ++i) TRELLIS_TRY(t.put((*store)->dbs().blocks, key_of(i), value));
    return Status::ok();
  }).is_ok());
  for (size_t i = 2000; i < 4000; i += 100)
    REQUIRE((*store)->write([&](Txn& t) {
      for (size_t j = i; j < i + 100; ++j)
        TRELLIS_TRY(t.put((*store)->dbs().blocks, key_of(j), value));
      return Status::ok();
    }).is_ok());
  CHECK((*store)->map_size() > before);
  size_t n = 0;
  REQUIRE((*store)->read([&](const Txn& t) {
    n = t.count((*store)->dbs().blocks);
    return Status::ok();
  }).is_ok());
  CHECK(n == 4000);
}

TEST_CASE("a second writer is refused with a clear message; readers are not") {
  TempDir dir;
  auto writer = Store::open(dir.path(), {});
  REQUIRE(writer.is_ok());
  auto second = Store::open(dir.path(), {});
  REQUIRE_FALSE(second.is_ok());
  CHECK(second.status().code() == Code::busy);
  CHECK(second.status().message().find("already open for writing") != std::string::npos);

  // The lock is per open file description: a forked child (another process)
  // is refused too.
  pid_t pid = fork();
  if (pid == 0) _exit(Store::open(dir.path(), {}).is_ok() ? 0 : 1);
  int wstatus = 0;
  waitpid(pid, &wstatus, 0);
  CHECK(WEXITSTATUS(wstatus) == 1);

  StoreOptions ro;
  ro.read_only = true;
  auto reader = Store::open(dir.path(), ro);
  REQUIRE(reader.is_ok());
  CHECK_FALSE((*reader)->write([](Txn&) { return Status::ok(); }).is_ok());
}

TEST_CASE("a read-only store sees commits of a writer in another process, across growth") {
  TempDir dir;
  StoreOptions wopts;
  wopts.initial_map_size = 64 * 1024;
  wopts.sync = false;
  { REQUIRE(Store::open(dir.path(), wopts).is_ok()); }  // create it
  StoreOptions ro;
  ro.read_only = true;
  auto reader = Store::open(dir.path(), ro);
  REQUIRE(reader.is_ok());

  int pipefd[2];
  REQUIRE(pipe(pipefd) == 0);
  pid_t pid = fork();
  if (pid == 0) {
    auto w = Store::open(dir.path(), wopts);
    if (!w.is_ok()) _exit(2);
    Bytes value(2000, 1);
    for (size_t i = 0; i < 50; ++i) {
      Status st = (*w)->write([&](Txn& t) {
        for (size_t j = 0; j < 20; ++j) TRELLIS_TRY(t.put((*w)->dbs().blocks, key_of(i * 20 + j), value));
        return Status::ok();
      });
      if (!st.is_ok()) _exit(3);
    }
    char c = 'x';
    if (write(pipefd[1], &c, 1) != 1) _exit(4);
    _exit(0);
  }
  close(pipefd[1]);
  char c;
  REQUIRE(read(pipefd[0], &c, 1) == 1);
  int wstatus = 0;
  waitpid(pid, &wstatus, 0);
  REQUIRE(WEXITSTATUS(wstatus) == 0);
  size_t n = 0;
  REQUIRE((*reader)->read([&](const Txn& t) {
    n = t.count((*reader)->dbs().blocks);
    return Status::ok();
  }).is_ok());
  CHECK(n == 1000);
  close(pipefd[0]);
}

TEST_CASE("opening a missing store read-only says so") {
  TempDir dir;
  StoreOptions ro;
  ro.read_only = true;
  auto r = Store::open(dir.sub("nope"), ro);
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().code() == Code::not_found);
}

TEST_CASE("an injected write fault aborts the whole transaction") {
  TempDir dir;
  int writes = 0;
  StoreOptions opts;
  opts.fail_write = [&] { return ++writes == 3; };
  auto store = Store::open(dir.path(), opts);
  REQUIRE(store.is_ok());
  Status st = (*store)->write([&](Txn& t) {
    for (size_t i = 0; i < 5; ++i) TRELLIS_TRY(t.put((*store)->dbs().meta, key_of(i), key_of(i)));
    return Status::ok();
  });
  CHECK(st.code() == Code::io_error);
  size_t n = 99;
  REQUIRE((*store)->read([&](const Txn& t) {
    n = t.count((*store)->dbs().meta);
    return Status::ok();
  }).is_ok());
  CHECK(n == 1);  // only the format marker
}
