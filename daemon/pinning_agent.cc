#include "daemon/pinning_agent.h"

#include <algorithm>

#include "pinning/repin.h"

namespace trellis {

using namespace pinning;
using net::awaitable;
using Clock = std::chrono::steady_clock;

namespace {

// Writes per maintenance pass: bounds the pass's memory and transaction.
constexpr size_t kMaxWritesPerPass = 10'000;

int64_t unix_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

MonitorOptions monitor_options(const AgentOptions& o) {
  MonitorOptions m;
  m.phi.first_interval = o.metrics_ttl / 2;
  return m;
}

}  // namespace

PinningAgent::PinningAgent(net::Node& node, Replica& replica, IpfsClient& ipfs, Tracker& tracker,
                           const PinSource& pins, AgentOptions opts, std::function<void()> announce,
                           LogFn log)
    : node_(node),
      replica_(replica),
      ipfs_(ipfs),
      tracker_(tracker),
      pins_(pins),
      opts_(std::move(opts)),
      announce_(std::move(announce)),
      log_(std::move(log)),
      self_(node.id().to_string()),
      monitor_(monitor_options(opts_)),
      started_(Clock::now()),
      last_sweep_(started_),
      inform_timer_(node.io()),
      measure_timer_(node.io()),
      maintain_timer_(node.io()) {}

PinningAgent::~PinningAgent() {
  *alive_ = false;
  stop();
}

Status PinningAgent::start() {
  std::string topic(kMetricsTopic);
  TRELLIS_TRY(node_.set_validator(topic, [this](const net::PubsubMessage& m, const net::PeerId&) {
    return node_.trusted(m.origin);
  }));
  TRELLIS_TRY(node_.subscribe(topic, [this](const net::PubsubMessage& m, const net::PeerId&) {
    auto metrics = decode_metrics(m.data);
    if (metrics) monitor_.on_metrics(m.origin.to_string(), *metrics, Clock::now());
  }));
  net::asio::co_spawn(node_.io(), measure_loop(), net::asio::detached);
  net::asio::co_spawn(node_.io(), inform_loop(), net::asio::detached);
  net::asio::co_spawn(node_.io(), maintain_loop(), net::asio::detached);
  return Status::ok();
}

void PinningAgent::stop() {
  stopped_ = true;
  inform_timer_.cancel();
  measure_timer_.cancel();
  maintain_timer_.cancel();
}

std::vector<PeerMetrics> PinningAgent::candidates() const {
  return monitor_.candidates(Clock::now());
}

bool PinningAgent::gone(const std::string& peer) const {
  if (peer == self_) return false;
  auto now = Clock::now();
  if (auto down = monitor_.down_for(peer, now)) return *down > opts_.repin_after;
  // Never heard from since this daemon started: gone once we have listened
  // for longer than the re-pinning delay.
  return !monitor_.known(peer) && now - started_ > opts_.repin_after;
}

// The ping must keep its rhythm whatever IPFS does: js-ipfs's repo/stat
// reads every block and took 4 s under load, and while a round waited for
// it (or for IPFS to start answering after a restart) healthy peers looked
// down to the others, long enough for their pins to be re-allocated (found
// by tests/chaos). So each round publishes at once with the free space
// measure_loop() found last, and without freespace before the first answer
// (the peer is then alive but not a candidate for new pins).
awaitable<void> PinningAgent::inform_loop() {
  auto alive = alive_;
  while (*alive && !stopped_) {
    auto round = Clock::now();
    uint64_t ttl = static_cast<uint64_t>(opts_.metrics_ttl.count());
    std::vector<Metric> metrics{{"ping", "", ttl},
                                {"pinqueue", std::to_string(tracker_.queue().size()), ttl}};
    for (const auto& [name, value] : opts_.tags) metrics.push_back({"tag:" + name, value, ttl});
    if (free_) metrics.push_back({"freespace", std::to_string(*free_), ttl});
    monitor_.on_metrics(self_, metrics, Clock::now());
    if (opts_.follower) {
      // Trusted peers would drop them anyway.
    } else if (Status st = node_.publish(kMetricsTopic, encode_metrics(metrics)); !st && log_)
      log_(LogLevel::warn, "cannot publish metrics: " + st.message());
    inform_timer_.expires_at(round + opts_.metrics_ttl / 2);
    net::error_code ec;
    co_await inform_timer_.async_wait(net::with_ec(ec));
  }
}

awaitable<void> PinningAgent::measure_loop() {
  auto alive = alive_;
  while (*alive && !stopped_) {
    auto round = Clock::now();
    std::optional<uint64_t> free = co_await free_space();
    if (!*alive || stopped_) co_return;
    bool first = free && !free_;
    free_ = free;
    if (first) inform_timer_.cancel();  // publish the free space now, not a round later
    measure_timer_.expires_at(round + opts_.metrics_ttl / 2);
    net::error_code ec;
    co_await measure_timer_.async_wait(net::with_ec(ec));
  }
}

awaitable<std::optional<uint64_t>> PinningAgent::free_space() {
  auto stat = co_await ipfs_.repo_stat();
  if (!stat || stat->storage_max == 0) co_return std::nullopt;
  co_return stat->storage_max > stat->repo_size ? stat->storage_max - stat->repo_size : 0;
}

awaitable<void> PinningAgent::maintain_loop() {
  auto alive = alive_;
  while (*alive && !stopped_) {
    maintain_timer_.expires_after(opts_.metrics_ttl / 2);
    net::error_code ec;
    co_await maintain_timer_.async_wait(net::with_ec(ec));
    if (!*alive || stopped_) co_return;
    auto now = Clock::now();
    if (opts_.catching_up && opts_.catching_up() && now - last_sweep_ < 4 * opts_.metrics_ttl)
      continue;
    last_sweep_ = now;
    auto written = maintain();
    if (!written && log_) log_(LogLevel::error, "maintenance failed: " + written.status().to_string());
  }
}

Result<size_t> PinningAgent::maintain() {
  if (opts_.follower) return size_t{0};
  auto now = Clock::now();
  std::vector<std::string> live{self_};
  for (const auto& peer : monitor_.peers())
    if (peer != self_ && monitor_.alive(peer, now)) live.push_back(peer);
  auto cands = monitor_.candidates(now);
  int64_t wall = unix_ns();
  std::vector<Decision> todo;
  auto is_gone = [this](const std::string& p) { return opts_.repin && gone(p); };
  Status looked = Status::ok();
  TRELLIS_TRY(pins_.scan([&](const Pin& pin) {
    // Only one live peer acts on a pin: the others skip it before the
    // decision and the marker lookup (a read of its own).
    if (responsible_peer(pin.cid, live) != self_) return true;
    Decision d = pinning::maintain(pin, wall, is_gone, cands, opts_.allocator);
    auto removed = pins_.removed(pin.cid);
    if (!removed) {
      looked = removed.status();
      return false;
    }
    if (*removed && **removed == pin.timestamp) {
      d.action = Action::remove;
      d.reason = "its unpin crossed a re-allocation";
    }
    if (d.action == Action::none) return true;
    if (d.action == Action::remove) d.pin = pin;  // its timestamp goes in the marker
    d.pin.cid = pin.cid;
    todo.push_back(std::move(d));
    return todo.size() < kMaxWritesPerPass;
  }));
  TRELLIS_TRY(looked);
  if (todo.empty()) return size_t{0};
  Batch batch;
  for (const auto& d : todo) {
    if (d.action == Action::remove) {
      TRELLIS_TRY(batch.remove(pin_key(d.pin.cid)));
      TRELLIS_TRY(batch.put(removed_key(d.pin.cid), encode_removed(d.pin.timestamp)));
    } else {
      TRELLIS_TRY(batch.put(pin_key(d.pin.cid), encode_pin(d.pin)));
    }
    if (log_)
      log_(LogLevel::info, std::string(d.action == Action::remove ? "removed " : "re-allocated ") +
           d.pin.cid.to_string() + " (" + d.reason + ")");
  }
  auto cid = replica_.commit(batch);
  if (!cid) return cid.status();
  announce_();
  return todo.size();
}

Result<size_t> PinningAgent::remove_peer(const net::PeerId& peer) {
  const std::string removed = peer.to_string();
  monitor_.forget(removed);
  node_.forget(peer);
  auto cands = monitor_.candidates(Clock::now());
  size_t written = 0;
  Batch batch;
  auto flush = [&]() -> Status {
    if (batch.empty()) return Status::ok();
    auto cid = replica_.commit(batch);
    if (!cid) return cid.status();
    announce_();
    batch = Batch();
    return Status::ok();
  };
  auto without = [&](std::vector<std::string> v) {
    v.erase(std::remove(v.begin(), v.end(), removed), v.end());
    return v;
  };
  Status st = Status::ok();
  TRELLIS_TRY(pins_.scan([&](const Pin& pin) {
    if (std::find(pin.allocations.begin(), pin.allocations.end(), removed) == pin.allocations.end())
      return true;
    Pin next = pin;
    next.allocations = without(pin.allocations);
    next.user_allocations = without(pin.user_allocations);
    AllocationRequest req{pin.replication_factor_min, pin.replication_factor_max,
                          next.user_allocations, next.allocations};
    if (auto chosen = allocate(req, cands, opts_.allocator)) {
      next.allocations = std::move(*chosen);
    } else if (log_) {
      log_(LogLevel::warn, pin.cid.to_string() + " keeps " + std::to_string(next.allocations.size()) +
                               " allocations: " + chosen.status().message());
    }
    if (next.allocations.empty()) return true;  // nowhere to go: left as it is
    st = batch.put(pin_key(pin.cid), encode_pin(next));
    if (st && ++written % kMaxWritesPerPass == 0) st = flush();
    return st.is_ok();
  }));
  TRELLIS_TRY(st);
  TRELLIS_TRY(flush());
  if (log_)
    log_(LogLevel::info, "removed peer " + removed + "; re-allocated " + std::to_string(written) + " pins");
  return written;
}

}  // namespace trellis
