// The tracker's operation queue: priority, concurrency, cancel-and-replace,
// retries with backoff and recover.
#include <doctest/doctest.h>

#include "pinning/op_queue.h"

using namespace trellis;
using namespace trellis::pinning;
using namespace std::chrono_literals;

namespace {

Pin pin_of(int i) {
  std::string s = std::to_string(i);
  Pin p;
  p.cid = Cid::sha256(kCodecRaw, ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
  return p;
}

const Clock::time_point t0{};
const Status kFail{Code::unavailable, "request timed out"};

}  // namespace

TEST_CASE("operations run in order, at most `concurrency` at once") {
  OpQueue q({.concurrency = 2});
  for (int i = 0; i < 4; i++) CHECK_FALSE(q.enqueue(OpType::pin, pin_of(i)).has_value());
  CHECK(q.size() == 4);
  auto a = q.next(t0);
  auto b = q.next(t0);
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->pin.cid == pin_of(0).cid);
  CHECK(b->pin.cid == pin_of(1).cid);
  CHECK_FALSE(q.next(t0).has_value());  // both slots taken
  CHECK(q.find(pin_of(0).cid)->phase == Phase::in_progress);
  CHECK(q.find(pin_of(2).cid)->phase == Phase::queued);
  q.finish(a->id, Status::ok(), t0);
  CHECK(q.find(pin_of(0).cid) == nullptr);  // done: nothing kept
  auto c = q.next(t0);
  REQUIRE(c);
  CHECK(c->pin.cid == pin_of(2).cid);
  CHECK(q.running() == 2);
}

TEST_CASE("a failed operation shows its error, retries with backoff after new ones") {
  OpQueue q({.concurrency = 1, .max_retries = 2, .retry_base = 1000ms, .retry_max = 1500ms});
  q.enqueue(OpType::pin, pin_of(1));
  auto a = q.next(t0);
  REQUIRE(a);
  q.finish(a->id, kFail, t0);
  const Op* op = q.find(pin_of(1).cid);
  REQUIRE(op);
  CHECK(op->phase == Phase::error);
  CHECK(op->attempts == 1);
  CHECK(op->error == "request timed out");
  CHECK(q.next_wakeup() == t0 + 1000ms);
  CHECK_FALSE(q.next(t0 + 999ms).has_value());  // not due yet
  // A new pin queued while the retry waits goes first when both are ready.
  q.enqueue(OpType::pin, pin_of(2));
  auto first = q.next(t0 + 1000ms);
  REQUIRE(first);
  CHECK(first->pin.cid == pin_of(2).cid);
  CHECK(q.find(pin_of(1).cid)->phase == Phase::queued);  // due, in line
  q.finish(first->id, Status::ok(), t0 + 1000ms);
  auto retry = q.next(t0 + 1000ms);
  REQUIRE(retry);
  CHECK(retry->pin.cid == pin_of(1).cid);
  CHECK(retry->attempts == 1);
  q.finish(retry->id, kFail, t0 + 1000ms);
  // Second backoff doubles to 2000 ms, capped at 1500 ms.
  CHECK(q.next_wakeup() == t0 + 2500ms);
  auto again = q.next(t0 + 2500ms);
  REQUIRE(again);
  q.finish(again->id, kFail, t0 + 2500ms);
  // Out of automatic retries: it stays in pin_error until recover().
  CHECK(q.find(pin_of(1).cid)->attempts == 3);
  CHECK_FALSE(q.next_wakeup().has_value());
  CHECK_FALSE(q.next(t0 + 1h).has_value());
  CHECK(q.recover(pin_of(1).cid));
  CHECK_FALSE(q.recover(pin_of(2).cid));  // nothing failed there
  auto rec = q.next(t0 + 1h);
  REQUIRE(rec);
  q.finish(rec->id, Status::ok(), t0 + 1h);
  CHECK(q.size() == 0);
}

TEST_CASE("cancel-and-replace: an unpin replaces a queued or running pin") {
  OpQueue q({.concurrency = 1});
  q.enqueue(OpType::pin, pin_of(1));
  q.enqueue(OpType::pin, pin_of(2));
  // Queued pin of 2 is replaced by an unpin: nothing to cancel.
  CHECK_FALSE(q.enqueue(OpType::unpin, pin_of(2)).has_value());
  CHECK(q.find(pin_of(2).cid)->type == OpType::unpin);
  CHECK(q.size() == 2);
  auto run = q.next(t0);
  REQUIRE(run);
  CHECK(run->pin.cid == pin_of(1).cid);
  // Running pin of 1 is replaced: the caller is told which run to cancel.
  auto cancel = q.enqueue(OpType::unpin, pin_of(1));
  REQUIRE(cancel);
  CHECK(*cancel == run->id);
  CHECK(q.find(pin_of(1).cid)->phase == Phase::queued);
  CHECK_FALSE(q.next(t0).has_value());  // the cancelled run still holds its slot
  q.finish(run->id, kFail, t0);          // its late result is ignored...
  CHECK(q.find(pin_of(1).cid)->type == OpType::unpin);
  CHECK(q.find(pin_of(1).cid)->attempts == 0);
  auto next = q.next(t0);                // ...and frees the slot
  REQUIRE(next);
  CHECK(next->pin.cid == pin_of(2).cid);  // queued first
  CHECK(next->type == OpType::unpin);
}

TEST_CASE("the same request twice is one operation; forget drops it") {
  OpQueue q({.concurrency = 4});
  q.enqueue(OpType::pin, pin_of(1));
  Pin renamed = pin_of(1);
  renamed.name = "new name";
  q.enqueue(OpType::pin, renamed);
  CHECK(q.size() == 1);
  CHECK(q.queued() == 1);
  CHECK(q.find(pin_of(1).cid)->pin.name == "new name");
  auto run = q.next(t0);
  REQUIRE(run);
  CHECK_FALSE(q.enqueue(OpType::pin, renamed).has_value());  // already running it
  Pin direct = pin_of(1);
  direct.mode = Mode::direct;
  direct.max_depth = 0;
  CHECK(q.enqueue(OpType::pin, direct) == run->id);  // a different pin replaces it
  auto cancel = q.forget(pin_of(1).cid);
  CHECK_FALSE(cancel.has_value());  // the replacement was only queued
  CHECK(q.size() == 0);
  q.finish(run->id, Status::ok(), t0);
  CHECK(q.running() == 0);
}

TEST_CASE("a failed operation can be replaced while it waits for its retry") {
  OpQueue q({.concurrency = 1});
  q.enqueue(OpType::pin, pin_of(1));
  auto run = q.next(t0);
  q.finish(run->id, kFail, t0);
  REQUIRE(q.next_wakeup().has_value());
  q.enqueue(OpType::unpin, pin_of(1));
  CHECK_FALSE(q.next_wakeup().has_value());  // the retry is gone
  auto un = q.next(t0);
  REQUIRE(un);
  CHECK(un->type == OpType::unpin);
  CHECK(un->attempts == 0);
}
