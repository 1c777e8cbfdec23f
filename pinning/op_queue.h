// OpQueue: the tracker's only state — the in-flight and failed pin/unpin
// operations, one per CID (sans-I/O: the caller passes the time and runs the
// operations it is handed).
//
// Order: new operations before retries, first come first served within each.
// At most `concurrency` run at once. A new operation for a CID replaces the
// one it has (cancel-and-replace): a queued or failed one is dropped, a
// running one is reported for the caller to cancel and its late result is
// ignored. A failed operation stays visible (pin_error/unpin_error, with its
// attempt count and message) and is retried after a backoff that doubles
// from retry_base up to retry_max, at most max_retries times; after that it
// waits for recover().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "pinning/pin.h"
#include "pinning/status.h"

namespace trellis::pinning {

using Clock = std::chrono::steady_clock;

struct OpQueueOptions {
  size_t concurrency = 10;
  uint32_t max_retries = 3;
  std::chrono::milliseconds retry_base{5'000};
  std::chrono::milliseconds retry_max{300'000};
};

struct Op {
  uint64_t id = 0;  // unique, to match a result with the run it belongs to
  OpType type = OpType::pin;
  Phase phase = Phase::queued;
  uint32_t attempts = 0;
  std::string error;
  Pin pin;  // the pin as it was when the operation was asked for
  std::optional<Clock::time_point> retry_at;  // set while a failed op waits
  OpView view() const { return {type, phase, attempts, error}; }
};

class OpQueue {
 public:
  explicit OpQueue(OpQueueOptions opts = {}) : opts_(opts) {}

  // Asks for `type` on pin.cid. Returns the id of a running operation the
  // caller should cancel, if the new one replaces it.
  std::optional<uint64_t> enqueue(OpType type, const Pin& pin);
  // Drops any operation for `cid` (e.g. the pin is already satisfied);
  // returns the id of a running one to cancel.
  std::optional<uint64_t> forget(const Cid& cid);
  // The next operation to run, marked in_progress, or nullopt when none is
  // ready or `concurrency` are running. Due retries become ready first.
  std::optional<Op> next(Clock::time_point now);
  // The result of running operation `id`; a result for a replaced
  // operation only frees its concurrency slot.
  void finish(uint64_t id, const Status& result, Clock::time_point now);
  // Re-queues a failed operation at once (as a retry). False when `cid` has
  // no failed operation.
  bool recover(const Cid& cid);

  const Op* find(const Cid& cid) const;
  // When the earliest waiting retry is due.
  std::optional<Clock::time_point> next_wakeup() const;
  size_t running() const { return running_.size(); }
  size_t queued() const { return ready_.size(); }
  size_t size() const { return ops_.size(); }
  // Every operation, in CID order, until fn returns false.
  void for_each(const std::function<bool(const Cid&, const Op&)>& fn) const;

 private:
  using Ready = std::tuple<int, uint64_t, Cid>;  // (retry?, sequence, cid)
  void unqueue(const Cid& cid, const Op& op);
  void push_ready(const Cid& cid, Op& op);

  OpQueueOptions opts_;
  uint64_t next_id_ = 1;
  uint64_t seq_ = 0;
  std::map<Cid, Op> ops_;
  std::map<Cid, Ready> ready_key_;  // cid → its entry in ready_
  std::set<Ready> ready_;
  std::set<std::pair<Clock::time_point, Cid>> waiting_;  // failed, retry due at
  std::map<uint64_t, Cid> running_;                       // ids holding a slot
};

}  // namespace trellis::pinning
