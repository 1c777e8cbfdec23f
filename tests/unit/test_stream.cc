// StreamIngest: a sub-DAG stream staged newest first, merged oldest first.
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <map>

#include "crdt/merger.h"
#include "crdt/stream.h"
#include "replica_util.h"
#include "subdag_util.h"
#include "tempdir.h"

using namespace trellis;
using namespace trellis::testing;

namespace {

// Puts over a few keys (so later blocks overwrite earlier ones) and removes
// of some of them: tombstones and the elements they name arrive in one
// stream and usually merge in one transaction.
void write_history(Replica& r, const std::string& prefix, int n) {
  for (int i = 0; i < n; ++i) {
    std::string key = prefix + std::to_string(i % 13);
    if (i % 5 == 4) {
      REQUIRE(r.remove(key).is_ok());
    } else {
      REQUIRE(r.put(key, val(prefix + std::to_string(i))).is_ok());
    }
  }
}

// The source's whole DAG, newest first, as blocks.subdag streams it.
std::vector<IncomingBlock> stream_of(Replica& src) {
  auto roots = src.heads();
  REQUIRE(roots.is_ok());
  return walk_all(src, *roots, {}, 1'000'000, 1000);
}

void add_in_chunks(StreamIngest& in, std::span<const IncomingBlock> blocks, size_t chunk) {
  for (size_t i = 0; i < blocks.size(); i += chunk) {
    auto r = in.add(blocks.subspan(i, std::min(chunk, blocks.size() - i)));
    REQUIRE(r.is_ok());
    CHECK(r->rejected.empty());
  }
}

// Puts ~1 MB values, one per block, just over the byte cap in all (two
// transactions' worth), under key_of(i); returns how many.
size_t put_big_values(Replica& r, const std::function<std::string(size_t)>& key_of) {
  const size_t n = kMaxQueuedBytes / 1'000'000 + 8;
  Bytes big(1'000'000, 'v');
  for (size_t i = 0; i < n; ++i) {
    big[0] = static_cast<uint8_t>(i);
    REQUIRE(r.put(key_of(i), big).is_ok());
  }
  return n;
}

// Runs merge_step to the end; returns the number of steps (transactions).
size_t merge_all(StreamIngest& in, SyncResult& out) {
  size_t steps = 0;
  for (bool done = false; !done; ++steps) {
    auto r = in.merge_step(out);
    REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    done = *r;
  }
  return steps;
}

}  // namespace

TEST_SUITE("stream") {
  TEST_CASE("a whole stream is staged, then merged oldest first into the source's state") {
    TempDir t;
    auto src = open_replica(t.sub("src"));
    write_history(*src, "k", 120);
    auto stream = stream_of(*src);
    REQUIRE(stream.size() == all_blocks(*src).size());

    size_t changes = 0;
    ReplicaOptions o;
    o.hook = [&](const Change&) { ++changes; };
    auto dst = open_replica(t.sub("dst"), o);
    auto heads = *src->heads();
    StreamIngest in(*dst, heads, "src");
    add_in_chunks(in, stream, 17);
    CHECK(in.staged() == stream.size());
    CHECK(dst->info()->staged == stream.size());
    CHECK(dst->info()->merged == 0);  // nothing merges before the stream ends
    SyncResult res;
    CHECK(merge_all(in, res) == 1);
    CHECK(res.merged == stream.size());
    CHECK(res.wants.empty());
    CHECK(dump(*dst) == dump(*src));
    CHECK(*dst->heads() == heads);
    auto info = *dst->info();
    CHECK(info.staged == 0);
    CHECK(info.pending == 0);
    CHECK(info.wants == 0);
    CHECK(info.tombstones == src->info()->tombstones);
    // One event per key whose winner changed in the one transaction.
    CHECK(changes == dump(*src).size());
  }

  TEST_CASE("blocks nobody asked for are refused and not stored") {
    TempDir t;
    auto src = open_replica(t.sub("src"));
    auto other = open_replica(t.sub("other"));
    write_history(*src, "a", 10);
    write_history(*other, "b", 10);
    auto dst = open_replica(t.sub("dst"));
    StreamIngest in(*dst, *src->heads(), "src");
    auto stranger = stream_of(*other);
    auto r = in.add(stranger);
    REQUIRE(r.is_ok());
    CHECK(r->stored == 0);
    CHECK(r->rejected.size() == stranger.size());
    CHECK(r->rejected.front().find("not asked for") != std::string::npos);
    // A block whose bytes do not hash to its CID.
    auto good = stream_of(*src);
    IncomingBlock forged = good.front();
    forged.bytes.back() ^= 1;
    r = in.add(std::span<const IncomingBlock>(&forged, 1));
    REQUIRE(r.is_ok());
    CHECK(r->stored == 0);
    CHECK(r->rejected.size() == 1);
    CHECK(dst->info()->blocks == 0);
  }

  TEST_CASE("a stream cut short hands the rest to the general path, which finishes the sync") {
    TempDir t;
    auto src = open_replica(t.sub("src"));
    write_history(*src, "k", 60);
    auto stream = stream_of(*src);
    auto dst = open_replica(t.sub("dst"));
    REQUIRE(dst->on_heads("src", *src->heads()).is_ok());
    StreamIngest in(*dst, *src->heads(), "src");
    const size_t half = stream.size() / 2;
    add_in_chunks(in, std::span(stream).first(half), 8);
    SyncResult res;
    merge_all(in, res);
    CHECK(res.merged == 0);  // the newest half waits for the oldest
    auto info = *dst->info();
    CHECK(info.staged == 0);
    CHECK(info.pending == half);
    REQUIRE(res.wants.size() == 1);
    CHECK(res.wants.front().peer == "src");
    auto wants = dst->wants(10);
    REQUIRE(wants.is_ok());
    REQUIRE(wants->size() == 1);
    CHECK(wants->front().cid == stream[half].cid);
    auto rest = dst->on_blocks(std::span(stream).subspan(half), Accept::wanted);
    REQUIRE(rest.is_ok());
    CHECK(rest->rejected.empty());
    CHECK(dump(*dst) == dump(*src));
    CHECK(*dst->heads() == *src->heads());
    CHECK(dst->info()->pending == 0);
  }

  TEST_CASE("blocks a crash left staged are merged when the replica opens again") {
    TempDir t;
    auto src = open_replica(t.sub("src"));
    write_history(*src, "k", 80);
    auto stream = stream_of(*src);
    {
      auto dst = open_replica(t.sub("dst"));
      StreamIngest in(*dst, *src->heads(), "src");
      add_in_chunks(in, stream, 25);
      // Closed before merge_step: as if the process died here.
    }
    size_t changes = 0;
    ReplicaOptions o;
    o.hook = [&](const Change&) { ++changes; };
    auto dst = open_replica(t.sub("dst"), o);
    CHECK(dump(*dst) == dump(*src));
    CHECK(*dst->heads() == *src->heads());
    CHECK(dst->info()->staged == 0);
    CHECK(changes == dump(*src).size());
  }

  TEST_CASE("a merge that failed (a full disk) is finished by resume_merges, without a restart") {
    TempDir t;
    auto src = open_replica(t.sub("src"));
    write_history(*src, "k", 80);
    auto stream = stream_of(*src);
    bool full = false;
    ReplicaOptions o;
    o.fail_write = [&] { return full; };
    auto dst = open_replica(t.sub("dst"), o);
    CHECK(*dst->resume_merges() == 0);  // nothing to do
    {
      StreamIngest in(*dst, *src->heads(), "src");
      add_in_chunks(in, stream, 25);
      full = true;
      SyncResult out;
      CHECK_FALSE(in.merge_step(out).is_ok());
    }
    CHECK(dst->info()->staged == stream.size());
    CHECK_FALSE(dst->resume_merges().is_ok());  // still full
    full = false;
    auto merged = dst->resume_merges();
    REQUIRE(merged.is_ok());
    CHECK(*merged == stream.size());
    CHECK(dump(*dst) == dump(*src));
    CHECK(*dst->heads() == *src->heads());
    CHECK(dst->info()->staged == 0);
  }

  TEST_CASE("blocks already merged are duplicates, and their links are not expected again") {
    TempDir t;
    auto src = open_replica(t.sub("src"));
    write_history(*src, "k", 30);
    auto first = stream_of(*src);
    auto dst = open_replica(t.sub("dst"));
    {
      StreamIngest in(*dst, *src->heads(), "src");
      add_in_chunks(in, first, 30);
      SyncResult res;
      merge_all(in, res);
    }
    write_history(*src, "n", 10);
    auto all = stream_of(*src);  // the new blocks, then the merged ones
    const size_t fresh = all.size() - first.size();
    REQUIRE(fresh > 0);
    StreamIngest in(*dst, *src->heads(), "src");
    auto r = in.add(all);
    REQUIRE(r.is_ok());
    CHECK(r->stored == fresh);
    CHECK(r->duplicates == first.size());
    CHECK(r->rejected.empty());
    SyncResult res;
    merge_all(in, res);
    CHECK(res.merged == fresh);
    CHECK(dump(*dst) == dump(*src));
  }

  TEST_CASE("a merge queues at most kMaxQueuedBytes of deltas per transaction") {
    TempDir t;
    auto src = open_replica(t.sub("src"));
    const size_t n = put_big_values(*src, [](size_t i) { return "big" + std::to_string(i); });
    auto stream = stream_of(*src);
    REQUIRE(stream.size() == n);
    auto dst = open_replica(t.sub("dst"));
    StreamIngest in(*dst, *src->heads(), "src");
    add_in_chunks(in, stream, 32);
    SyncResult res;
    // Two key ranges of 16 values each (one transaction each), then one
    // that records the blocks as merged.
    CHECK(merge_all(in, res) == 3);
    CHECK(res.merged == n);
    CHECK(dump(*dst) == dump(*src));
  }

  TEST_CASE("one key written over and over cannot be cut into ranges: merged block by block") {
    TempDir t;
    auto src = open_replica(t.sub("src"));
    put_big_values(*src, [](size_t) { return std::string("same"); });
    auto stream = stream_of(*src);
    auto dst = open_replica(t.sub("dst"));
    StreamIngest in(*dst, *src->heads(), "src");
    add_in_chunks(in, stream, 32);
    SyncResult res;
    CHECK(merge_all(in, res) == 2);  // by key range it would be 3, one range holding everything
    CHECK(dump(*dst) == dump(*src));
  }

  TEST_CASE("a stream too large for one transaction is merged key range by key range") {
    TempDir t;
    auto src = open_replica(t.sub("src"));
    // 5 commits of 5,000 keys with 1 KB values (~26 MB of deltas: two
    // ranges), then one that removes every 7th key and rewrites every 11th:
    // tombstones and the elements they name fall in every range.
    for (int b = 0; b < 5; ++b) {
      Batch batch;
      for (int i = b * 5000; i < (b + 1) * 5000; ++i)
        REQUIRE(batch.put("r/" + std::to_string(i), Bytes(1000, static_cast<uint8_t>(i))).is_ok());
      REQUIRE(src->commit(batch).is_ok());
    }
    Batch last;
    for (int i = 0; i < 25000; i += 7) REQUIRE(last.remove("r/" + std::to_string(i)).is_ok());
    for (int i = 1; i < 25000; i += 11) REQUIRE(last.put("r/" + std::to_string(i), val("new")).is_ok());
    REQUIRE(src->commit(last).is_ok());
    auto stream = stream_of(*src);
    REQUIRE(stream.size() > 6);  // a commit is split into blocks of at most ~1 MiB

    SUBCASE("in order: the source's state, each key reported once") {
      std::map<std::string, int> reported;
      ReplicaOptions o;
      o.hook = [&](const Change& c) { ++reported[c.key]; };
      auto dst = open_replica(t.sub("dst"), o);
      StreamIngest in(*dst, *src->heads(), "src");
      add_in_chunks(in, stream, 2);
      SyncResult res;
      CHECK(merge_all(in, res) == 3);  // two ranges, then the blocks recorded
      CHECK(res.merged == stream.size());
      CHECK(dump(*dst) == dump(*src));
      CHECK(*dst->heads() == *src->heads());
      CHECK(dst->info()->staged == 0);
      CHECK(reported.size() == dump(*src).size());
      CHECK(std::all_of(reported.begin(), reported.end(), [](auto& kv) { return kv.second == 1; }));
    }
    SUBCASE("a write that fails after the first range: resumed, the same state") {
      bool full = false;
      ReplicaOptions o;
      o.fail_write = [&] { return full; };
      auto dst = open_replica(t.sub("dst"), o);
      {
        StreamIngest in(*dst, *src->heads(), "src");
        add_in_chunks(in, stream, 8);
        SyncResult out;
        REQUIRE(in.merge_step(out).is_ok());  // the first range
        full = true;
        CHECK_FALSE(in.merge_step(out).is_ok());
      }
      CHECK(dst->info()->staged == stream.size());
      full = false;
      auto merged = dst->resume_merges();
      REQUIRE(merged.is_ok());
      CHECK(*merged == stream.size());
      CHECK(dump(*dst) == dump(*src));
      CHECK(*dst->heads() == *src->heads());
    }
  }

  TEST_CASE("a stream naming more unreceived links than max_expected fails and stores nothing") {
    TempDir t;
    auto src = open_replica(t.sub("src"));
    write_history(*src, "k", 10);  // a chain: each block links the one before
    auto stream = stream_of(*src);
    auto dst = open_replica(t.sub("dst"));
    // Once the root arrives, its one link is expected: more than 0.
    StreamIngest tight(*dst, *src->heads(), "src", 0);
    auto r = tight.add(stream);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().code() == Code::too_large);
    CHECK(r.status().message().find("more than 0 blocks") != std::string::npos);
    CHECK(dst->info()->blocks == 0);
    CHECK(tight.staged() == 0);
    // A chain never has more than one link outstanding.
    StreamIngest enough(*dst, *src->heads(), "src", 1);
    add_in_chunks(enough, stream, 3);
    SyncResult res;
    merge_all(enough, res);
    CHECK(dump(*dst) == dump(*src));
  }
}
