#include "pinning/op_queue.h"

#include <algorithm>
#include <utility>

namespace trellis::pinning {

void OpQueue::unqueue(const Cid& cid, const Op& op) {
  if (auto it = ready_key_.find(cid); it != ready_key_.end()) {
    ready_.erase(it->second);
    ready_key_.erase(it);
  }
  if (op.retry_at) waiting_.erase({*op.retry_at, cid});
}

void OpQueue::push_ready(const Cid& cid, Op& op) {
  op.phase = Phase::queued;
  op.retry_at.reset();
  Ready key{op.attempts > 0 ? 1 : 0, seq_++, cid};
  ready_.insert(key);
  ready_key_[cid] = std::move(key);
}

std::optional<uint64_t> OpQueue::enqueue(OpType type, const Pin& pin) {
  std::optional<uint64_t> cancel;
  auto it = ops_.find(pin.cid);
  if (it != ops_.end()) {
    Op& old = it->second;
    if (old.type == type && old.phase == Phase::queued) {
      old.pin = pin;  // keep its place in line
      return std::nullopt;
    }
    if (old.type == type && old.phase == Phase::in_progress &&
        (type == OpType::unpin || old.pin.mode == pin.mode))
      return std::nullopt;  // already doing exactly this
    if (old.phase == Phase::in_progress) cancel = old.id;
    unqueue(pin.cid, old);
    ops_.erase(it);
  }
  Op op;
  op.id = next_id_++;
  op.type = type;
  op.pin = pin;
  auto [pos, inserted] = ops_.emplace(pin.cid, std::move(op));
  (void)inserted;
  push_ready(pin.cid, pos->second);
  return cancel;
}

std::optional<uint64_t> OpQueue::forget(const Cid& cid) {
  auto it = ops_.find(cid);
  if (it == ops_.end()) return std::nullopt;
  std::optional<uint64_t> cancel;
  if (it->second.phase == Phase::in_progress) cancel = it->second.id;
  unqueue(cid, it->second);
  ops_.erase(it);
  return cancel;
}

std::optional<Op> OpQueue::next(Clock::time_point now) {
  while (!waiting_.empty() && waiting_.begin()->first <= now) {
    Cid cid = waiting_.begin()->second;
    waiting_.erase(waiting_.begin());
    Op& op = ops_.at(cid);
    op.retry_at.reset();
    push_ready(cid, op);
  }
  if (running_.size() >= opts_.concurrency || ready_.empty()) return std::nullopt;
  Cid cid = std::get<2>(*ready_.begin());
  ready_.erase(ready_.begin());
  ready_key_.erase(cid);
  Op& op = ops_.at(cid);
  op.phase = Phase::in_progress;
  running_.emplace(op.id, cid);
  return op;
}

void OpQueue::finish(uint64_t id, const Status& result, Clock::time_point now) {
  auto run = running_.find(id);
  if (run == running_.end()) return;
  auto it = ops_.find(run->second);
  running_.erase(run);
  // Replaced or forgotten while it ran: the slot is free, the result moot.
  if (it == ops_.end() || it->second.id != id) return;
  Op& op = it->second;
  if (result.is_ok()) {
    ops_.erase(it);
    return;
  }
  op.phase = Phase::error;
  op.attempts++;
  op.error = result.message();
  if (op.attempts <= opts_.max_retries) {
    auto delay = opts_.retry_base * (int64_t{1} << std::min<uint32_t>(op.attempts - 1, 20));
    op.retry_at = now + std::min<std::chrono::milliseconds>(delay, opts_.retry_max);
    waiting_.insert({*op.retry_at, it->first});
  }
}

bool OpQueue::recover(const Cid& cid) {
  auto it = ops_.find(cid);
  if (it == ops_.end() || it->second.phase != Phase::error) return false;
  if (it->second.retry_at) waiting_.erase({*it->second.retry_at, cid});
  push_ready(cid, it->second);
  return true;
}

const Op* OpQueue::find(const Cid& cid) const {
  auto it = ops_.find(cid);
  return it == ops_.end() ? nullptr : &it->second;
}

std::optional<Clock::time_point> OpQueue::next_wakeup() const {
  if (waiting_.empty()) return std::nullopt;
  return waiting_.begin()->first;
}

void OpQueue::for_each(const std::function<bool(const Cid&, const Op&)>& fn) const {
  for (const auto& [cid, op] : ops_)
    if (!fn(cid, op)) return;
}

}  // namespace trellis::pinning
