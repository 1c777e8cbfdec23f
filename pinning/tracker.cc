#include "pinning/tracker.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace trellis::pinning {

using net::awaitable;
using net::error_code;

// ---- ReplicaPins ----

Result<std::optional<Pin>> ReplicaPins::get(const Cid& cid) const {
  auto v = replica_.get(pin_key(cid));
  if (!v) return v.status();
  if (!*v) return std::optional<Pin>{};
  auto pin = decode_pin(**v);
  if (!pin) return pin.status();
  return std::optional<Pin>(std::move(*pin));
}

Status ReplicaPins::scan(const std::function<bool(const Pin&)>& fn, std::string_view after) const {
  Pin pin;  // one for the whole scan: its strings and vectors are reused
  return scan_stored(
      [&](std::string_view, ByteView value) {
        return !decode_pin_into(value, pin) || fn(pin);  // a value that does not decode is skipped
      },
      after);
}

Status ReplicaPins::scan_stored(const std::function<bool(std::string_view, ByteView)>& fn,
                                std::string_view after) const {
  return replica_.scan(
      kPinPrefix,
      [&](std::string_view key, ByteView value) { return key == after || fn(key, value); },
      after);
}

Result<std::optional<int64_t>> ReplicaPins::removed(const Cid& cid) const {
  auto v = replica_.get(removed_key(cid));
  if (!v) return v.status();
  if (!*v) return std::optional<int64_t>{};
  return decode_removed(**v);
}

Status ReplicaPins::scan_removed(const std::function<bool(const Cid&, int64_t)>& fn) const {
  return replica_.scan(kRemovedPrefix, [&](std::string_view key, ByteView value) {
    auto cid = Cid::parse(key.substr(kRemovedPrefix.size()));
    auto ts = decode_removed(value);
    return !cid || !ts || fn(*cid, *ts);  // malformed markers are skipped
  });
}

// ---- the IPFS side of a listing, 8 bytes per pin ----

namespace {

// 64 bits of a CID's multihash digest: sha2-256 digests are uniform, so
// their first 8 bytes are a hash with collision odds of n²/2⁶⁵. Comparing
// multihashes makes a CIDv0 and the CIDv1 of the same content equal, as
// they are to IPFS.
uint64_t short_hash(const Cid& cid) {
  ByteView d = cid.hash().digest;
  uint64_t v = 0;
  if (d.size() >= 8) {
    std::memcpy(&v, d.data(), 8);
    return v;
  }
  return std::hash<std::string_view>{}(
      std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

}  // namespace

struct Tracker::Lists {
  bool reachable = true;
  Status error;  // why IPFS could not be listed
  std::vector<uint64_t> recursive, direct;

  IpfsPin lookup(const Cid& cid) const {
    if (!reachable) return IpfsPin::unknown;
    uint64_t h = short_hash(cid);
    if (std::binary_search(recursive.begin(), recursive.end(), h)) return IpfsPin::recursive;
    if (std::binary_search(direct.begin(), direct.end(), h)) return IpfsPin::direct;
    return IpfsPin::none;
  }
};

// ---- Tracker ----

Tracker::Tracker(net::asio::io_context& io, IpfsClient& ipfs, const PinSource& pins,
                 TrackerOptions opts)
    : io_(io),
      ipfs_(ipfs),
      pins_(pins),
      opts_(std::move(opts)),
      queue_(opts_.queue),
      retry_timer_(std::make_unique<net::asio::steady_timer>(io)),
      recover_timer_(std::make_unique<net::asio::steady_timer>(io)),
      alive_(std::make_shared<bool>(true)) {}

Tracker::~Tracker() {
  *alive_ = false;
  stop();
}

void Tracker::start() {
  net::asio::co_spawn(io_, worker(), net::asio::detached);
  net::asio::co_spawn(io_, recover_loop(), net::asio::detached);
}

void Tracker::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& [id, token] : running_) token->cancel();
  retry_timer_->cancel();
  recover_timer_->cancel();
}

void Tracker::kick() { retry_timer_->cancel(); }

void Tracker::cancel(std::optional<uint64_t> id) {
  if (!id) return;
  if (auto it = running_.find(*id); it != running_.end()) it->second->cancel();
}

void Tracker::queue_op(OpType type, const Pin& pin) {
  if (type == OpType::pin) held_.insert(short_hash(pin.cid));
  cancel(queue_.enqueue(type, pin));
}

void Tracker::on_change(const Change& change) {
  if (!change.key.starts_with(kPinPrefix)) return;
  auto cid = cid_of_key(change.key);
  if (!cid) return;
  Pin pin;
  pin.cid = *cid;
  bool mine = false;
  if (change.value) {
    auto decoded = decode_pin(*change.value);
    if (decoded && decoded->cid == *cid) {
      mine = decoded->allocated_to(opts_.self);
      if (mine) pin = std::move(*decoded);
    }
  }
  if (!mine && !queue_.find(*cid) && !held_.contains(short_hash(*cid))) return;
  queue_op(mine ? OpType::pin : OpType::unpin, pin);
  kick();
}

awaitable<void> Tracker::worker() {
  auto alive = alive_;
  while (*alive && !stopped_) {
    while (auto op = queue_.next(Clock::now()))
      net::asio::co_spawn(io_, execute(std::move(*op)), net::asio::detached);
    auto wake = queue_.next_wakeup();
    retry_timer_->expires_at(wake ? *wake : Clock::time_point::max());
    error_code ec;
    co_await retry_timer_->async_wait(net::with_ec(ec));
  }
}

awaitable<void> Tracker::execute(Op op) {
  auto alive = alive_;
  auto token = std::make_shared<CancelToken>();
  running_[op.id] = token;
  Status st;
  if (op.type == OpType::pin) {
    // Best effort: connecting to the pin's origins only speeds fetching up.
    for (const auto& origin : op.pin.origins) {
      Status connected = co_await ipfs_.swarm_connect(origin);
      (void)connected;
      if (!*alive || token->cancelled()) break;
    }
    if (op.pin.pin_update && op.pin.mode == Mode::recursive && !token->cancelled()) {
      st = co_await ipfs_.pin_update(*op.pin.pin_update, op.pin.cid, token);
      // The old pin may not be here (or the daemon may lack pin/update):
      // then a plain pin does the job.
      if (!st && *alive && !token->cancelled()) st = co_await ipfs_.pin_add(op.pin.cid, op.pin.mode, {}, token);
    } else if (!token->cancelled()) {
      st = co_await ipfs_.pin_add(op.pin.cid, op.pin.mode, {}, token);
    }
  } else {
    st = co_await ipfs_.pin_rm(op.pin.cid, token);
    // A pin/add cancelled by this unpin may still complete inside IPFS
    // after the pin/rm (closing the request does not stop the daemon's
    // work): check, and fail (retried with backoff) while it is pinned.
    if (st && *alive && !token->cancelled()) {
      auto left = co_await ipfs_.pin_ls_one(op.pin.cid);
      if (left && (*left == IpfsPin::recursive || *left == IpfsPin::direct))
        st = Status(Code::unavailable, "still pinned after pin/rm (a cancelled pin finished late)");
    }
  }
  if (!*alive) co_return;
  if (token->cancelled() && st.is_ok()) st = Status(Code::unavailable, "cancelled");
  if (!token->cancelled()) {
    bool pin = op.type == OpType::pin;
    if (!pin && st) held_.erase(short_hash(op.pin.cid));
    ++(st ? (pin ? counters_.pins : counters_.unpins) : (pin ? counters_.pin_errors : counters_.unpin_errors));
  }
  running_.erase(op.id);
  queue_.finish(op.id, st, Clock::now());
  // What IPFS pins just changed: a cached listing would now report this
  // CID as unexpectedly unpinned (or still pinned) to ipfs_lists() callers.
  lists_.reset();
  kick();
}

PinInfo Tracker::info_of(const Cid& cid, const Pin* pin, IpfsPin ipfs) const {
  PinInfo info;
  info.cid = cid;
  if (pin) info.name = pin->name;
  const Op* op = queue_.find(cid);
  OpView view;
  if (op) view = op->view();
  info.status = compute_status(pin, opts_.self, ipfs, op ? &view : nullptr);
  if (op) {
    info.attempts = op->attempts;
    info.error = op->error;
  }
  return info;
}

awaitable<PinInfo> Tracker::status(Cid cid) {
  auto pin = pins_.get(cid);
  std::optional<Pin> p = pin ? *pin : std::nullopt;
  IpfsPin ipfs = IpfsPin::none;
  if (!queue_.find(cid) && p && p->allocated_to(opts_.self)) {
    auto r = co_await ipfs_.pin_ls_one(cid);
    ipfs = r ? *r : IpfsPin::unknown;
  }
  PinInfo info = info_of(cid, p ? &*p : nullptr, ipfs);
  if (!pin) info.error = pin.status().message();
  co_return info;
}

awaitable<std::shared_ptr<Tracker::Lists>> Tracker::load_lists() {
  auto lists = std::make_shared<Lists>();
  for (auto* type : {"recursive", "direct"}) {
    auto& into = std::string_view(type) == "recursive" ? lists->recursive : lists->direct;
    Status st = co_await ipfs_.pin_ls(type, [&](const Cid& cid, IpfsPin) {
      into.push_back(short_hash(cid));
      return true;
    });
    if (!st) {
      lists->reachable = false;
      lists->error = st;
      break;
    }
  }
  std::sort(lists->recursive.begin(), lists->recursive.end());
  std::sort(lists->direct.begin(), lists->direct.end());
  if (lists->reachable) {
    held_.insert(lists->recursive.begin(), lists->recursive.end());
    held_.insert(lists->direct.begin(), lists->direct.end());
  }
  co_return lists;
}

awaitable<std::shared_ptr<const Tracker::Lists>> Tracker::ipfs_lists(
    std::chrono::milliseconds max_age) {
  auto now = std::chrono::steady_clock::now();
  if (lists_ && now - lists_at_ <= max_age) co_return lists_;
  std::shared_ptr<const Lists> fresh = co_await load_lists();
  lists_ = fresh;
  lists_at_ = now;
  co_return fresh;
}

PinInfo Tracker::status_in(const Pin& pin, const Lists& lists) const {
  return info_of(pin.cid, &pin, lists.lookup(pin.cid));
}

awaitable<Status> Tracker::status_all(std::function<bool(const PinInfo&)> fn) {
  auto lists = co_await load_lists();
  bool more = true;
  Status st = pins_.scan([&](const Pin& pin) {
    more = fn(info_of(pin.cid, &pin, lists->lookup(pin.cid)));
    return more;
  });
  if (!st || !more) co_return st;
  // Operations on CIDs the state no longer has (unpins in flight or failed).
  std::vector<Cid> orphans;
  queue_.for_each([&](const Cid& cid, const Op& op) {
    if (op.type == OpType::unpin) {
      auto p = pins_.get(cid);
      if (p && !*p) orphans.push_back(cid);
    }
    return true;
  });
  for (const auto& cid : orphans)
    if (!fn(info_of(cid, nullptr, IpfsPin::none))) break;
  co_return Status::ok();
}

awaitable<PinInfo> Tracker::recover(Cid cid) {
  if (!queue_.recover(cid)) {
    PinInfo now = co_await status(cid);
    if (now.status == TrackerStatus::unexpectedly_unpinned ||
        now.status == TrackerStatus::cluster_error) {
      auto pin = pins_.get(cid);
      if (pin && *pin) queue_op(OpType::pin, **pin);
    }
  }
  kick();
  co_return co_await status(cid);
}

awaitable<Result<size_t>> Tracker::recover_all() {
  // Without IPFS's list nothing can be told apart from "unpinned": do
  // nothing rather than queue every pin.
  auto lists = co_await load_lists();
  if (!lists->reachable) co_return lists->error;
  std::vector<Pin> again, extra;
  size_t count = 0;
  auto held = [&](const Cid& cid) {
    IpfsPin p = lists->lookup(cid);
    return (p == IpfsPin::recursive || p == IpfsPin::direct) && !queue_.find(cid);
  };
  Status st = pins_.scan([&](const Pin& pin) {
    PinInfo info = info_of(pin.cid, &pin, lists->lookup(pin.cid));
    if (info.status == TrackerStatus::pin_error || info.status == TrackerStatus::unpin_error) {
      if (queue_.recover(info.cid)) count++;
    } else if (info.status == TrackerStatus::unexpectedly_unpinned) {
      again.push_back(pin);
    } else if (!pin.allocated_to(opts_.self) && held(pin.cid)) {
      extra.push_back(pin);  // moved away while its unpin was lost (a crash)
    }
    return true;
  });
  if (!st) co_return st;
  // Removed pins IPFS still holds: their unpin was lost in a crash. The
  // markers say which CIDs the cluster pinned, so pins made directly in
  // IPFS are left alone.
  st = pins_.scan_removed([&](const Cid& cid, int64_t) {
    auto now = pins_.get(cid);
    if (now && !*now && held(cid)) {
      Pin gone;
      gone.cid = cid;
      extra.push_back(std::move(gone));
    }
    return true;
  });
  if (!st) co_return st;
  for (const auto& pin : extra) queue_op(OpType::unpin, pin);
  count += extra.size();
  // Failed unpins of CIDs the state no longer has.
  std::vector<Cid> failed;
  queue_.for_each([&](const Cid& cid, const Op& op) {
    if (op.type == OpType::unpin && op.phase == Phase::error) failed.push_back(cid);
    return true;
  });
  for (const auto& cid : failed) count += queue_.recover(cid) ? 1 : 0;
  for (const auto& pin : again) queue_op(OpType::pin, pin);
  count += again.size();
  kick();
  co_return count;
}

// Recovers at start (queueing whatever is allocated here and missing from
// IPFS: pins that arrived while the daemon was down, or that IPFS lost),
// retrying every retry_interval until IPFS answers, then every
// recover_interval.
awaitable<void> Tracker::recover_loop() {
  auto alive = alive_;
  bool first_failure = true;
  while (*alive && !stopped_) {
    auto r = co_await recover_all();
    if (!*alive || stopped_) co_return;
    if (!r && first_failure && opts_.log) {
      opts_.log(LogLevel::warn, "cannot list IPFS's pins yet (retrying): " + r.status().to_string());
      first_failure = false;
    }
    if (r && opts_.recover_interval.count() == 0) co_return;
    recover_timer_->expires_after(r ? opts_.recover_interval : opts_.retry_interval);
    error_code ec;
    co_await recover_timer_->async_wait(net::with_ec(ec));
  }
}

}  // namespace trellis::pinning
