#include "tools/sim/cluster.h"

#include <fmt/format.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <system_error>

namespace trellis::sim {

namespace fs = std::filesystem;

const char* kind_name(MsgKind k) {
  switch (k) {
    case MsgKind::heads:
      return "heads";
    case MsgKind::request:
      return "request";
    case MsgKind::blocks:
      return "blocks";
  }
  return "?";
}

std::string short_cid(const Cid& c) {
  std::string s = c.to_string();
  return s.size() > 10 ? "…" + s.substr(s.size() - 10) : s;
}

std::string short_hex(ByteView b) {
  if (b.size() <= 16) return to_hex(b);
  return to_hex(b.subspan(0, 16)) + fmt::format("…({} bytes)", b.size());
}

Cluster::Cluster(const ClusterOptions& opts) : opts_(opts), rng_(opts.seed) {}

Result<std::unique_ptr<Cluster>> Cluster::create(const ClusterOptions& opts) {
  std::unique_ptr<Cluster> c(new Cluster(opts));
  std::error_code ec;
  if (opts.dir.empty()) {
    const char* tmp = getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/trellis-sim-XXXXXX";
    if (!mkdtemp(templ.data()))
      return Status(Code::io_error, "cannot create a temporary directory from " + templ);
    c->dir_ = templ;
    c->own_dir_ = true;
  } else {
    c->dir_ = opts.dir;
    fs::create_directories(c->dir_, ec);
    if (ec) return Status(Code::io_error, "cannot create " + c->dir_ + ": " + ec.message());
  }
  for (size_t i = 0; i < opts.replicas; ++i) {
    auto added = c->add_replica();
    if (!added) return added.status();
  }
  // The periodic tick reschedules itself for as long as the cluster lives.
  c->push(c->opts_.tick_ms, std::nullopt, [p = c.get()] { p->tick(); });
  return c;
}

Cluster::~Cluster() {
  for (auto& n : nodes_) n->replica.reset();
  if (opts_.keep) return;
  std::error_code ec;
  if (own_dir_) {
    fs::remove_all(dir_, ec);
  } else {
    for (auto& n : nodes_) fs::remove_all(n->dir, ec);
  }
}

Result<size_t> Cluster::add_replica() {
  size_t i = nodes_.size();
  auto node = std::make_unique<Node>();
  node->name = "r" + std::to_string(i);
  node->dir = dir_ + "/" + node->name;
  if (fs::exists(node->dir))
    return Status(Code::invalid_argument,
                  node->dir + " already exists; give the simulation an empty directory");
  nodes_.push_back(std::move(node));
  // A replica added during a partition starts in a group of its own.
  int group = group_.empty() ? 0 : group_[0];
  if (partitioned()) group = *std::max_element(group_.begin(), group_.end()) + 1;
  group_.push_back(group);
  if (Status st = open_node(i); !st) {
    nodes_.pop_back();
    group_.pop_back();
    return st;
  }
  return i;
}

Status Cluster::open_node(size_t i) {
  Node* node = nodes_[i].get();
  ReplicaOptions o = opts_.replica;
  o.fail_write = [node] {
    if (node->fail_countdown == 0) return false;
    if (--node->fail_countdown > 0) return false;
    node->injected = true;
    return true;
  };
  o.hook = [this, i](const Change& c) {
    keys_.insert(c.key);
    if (hook_) hook_(i, c);
  };
  auto r = Replica::open(node->dir, o);
  if (!r) return r.status();
  node->replica = std::move(*r);
  node->next_retry = now_ + opts_.retry_ms;
  return Status::ok();
}

// ---- local writes ----

Result<Cid> Cluster::write(size_t i, const std::function<Result<Cid>(Replica&)>& fn) {
  if (!up(i)) return Status(Code::invalid_argument, name(i) + " is down");
  auto r = fn(*nodes_[i]->replica);
  if (!r) {
    failed(i, "local write", r.status());
    return r.status();
  }
  ++stats_.local_writes;
  if (!r->empty()) broadcast_heads(i);
  return r;
}

Result<Cid> Cluster::put(size_t i, std::string_view key, ByteView value) {
  keys_.emplace(key);
  return write(i, [&](Replica& r) { return r.put(key, value); });
}

Result<Cid> Cluster::remove(size_t i, std::string_view key) {
  keys_.emplace(key);
  return write(i, [&](Replica& r) { return r.remove(key); });
}

Result<Cid> Cluster::commit(size_t i, const Batch& batch) {
  // A Batch keeps its keys private: the cluster learns them from the
  // changes the commit reports (see open_node) or from note_key().
  return write(i, [&](Replica& r) { return r.commit(batch); });
}

// ---- network ----

uint64_t Cluster::uniform(uint64_t lo, uint64_t hi) {
  return std::uniform_int_distribution<uint64_t>(lo, hi)(rng_);
}

bool Cluster::chance(double p) {
  if (p <= 0) return false;
  return std::uniform_real_distribution<double>(0, 1)(rng_) < p;
}

size_t Cluster::random_peer(size_t i) {
  if (nodes_.size() < 2) return i;
  size_t p = uniform(0, nodes_.size() - 2);
  return p >= i ? p + 1 : p;
}

std::optional<size_t> Cluster::index_of(std::string_view name) const {
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i]->name == name) return i;
  return std::nullopt;
}

void Cluster::push(uint64_t time, std::optional<Message> msg, std::function<void()> fn) {
  queue_.push_back(Event{time, seq_++, std::move(msg), std::move(fn)});
  std::push_heap(queue_.begin(), queue_.end(), Later{});
}

void Cluster::at(uint64_t delay_ms, std::function<void()> fn) {
  push(now_ + delay_ms, std::nullopt, std::move(fn));
}

void Cluster::send(Message m) {
  ++stats_.messages;
  if (m.kind == MsgKind::blocks) stats_.blocks_sent += m.blocks.size();
  bool lost = !connected(m.from, m.to) || chance(opts_.net.drop);
  for (const auto& [id, rule] : drop_rules_) lost = lost || rule(m);
  if (lost) {
    ++stats_.dropped;
    return;
  }
  const NetConfig& net = opts_.net;
  if (chance(net.duplicate)) {
    ++stats_.duplicated;
    ++in_flight_;
    push(now_ + uniform(net.min_delay_ms, net.max_delay_ms), m, nullptr);
  }
  ++in_flight_;
  uint64_t at_ms = now_ + uniform(net.min_delay_ms, net.max_delay_ms);
  push(at_ms, std::move(m), nullptr);
}

void Cluster::broadcast_heads(size_t i) {
  if (!up(i)) return;
  auto heads = nodes_[i]->replica->heads();
  if (!heads) {
    failed(i, "heads", heads.status());
    return;
  }
  if (heads->empty()) return;
  for (size_t p = 0; p < nodes_.size(); ++p)
    if (p != i) send(Message{MsgKind::heads, i, p, *heads, {}});
}

void Cluster::request_wants(size_t i, std::optional<size_t> peer) {
  if (!up(i) || nodes_.size() < 2) return;
  auto wants = nodes_[i]->replica->wants(opts_.want_batch);
  if (!wants) {
    failed(i, "wants", wants.status());
    return;
  }
  // Each want goes to its hinted peer or, half the time (and when the hint
  // is no replica), to a random one: hints can be stale.
  std::map<size_t, std::vector<Cid>> by_peer;
  for (auto& w : *wants) {
    size_t to;
    if (peer) {
      to = *peer;
    } else {
      auto hint = index_of(w.peer);
      to = hint && *hint != i && chance(0.5) ? *hint : random_peer(i);
    }
    by_peer[to].push_back(std::move(w.cid));
  }
  for (auto& [to, cids] : by_peer) send(Message{MsgKind::request, i, to, std::move(cids), {}});
}

void Cluster::partition(const std::vector<std::vector<size_t>>& groups) {
  std::fill(group_.begin(), group_.end(), -1);
  for (size_t g = 0; g < groups.size(); ++g)
    for (size_t i : groups[g]) group_.at(i) = static_cast<int>(g);
  // An isolated replica is a group of its own.
  int next = static_cast<int>(groups.size());
  for (auto& g : group_)
    if (g < 0) g = next++;
  ++stats_.partitions;
}

void Cluster::heal() {
  std::fill(group_.begin(), group_.end(), 0);
}

bool Cluster::partitioned() const {
  return std::any_of(group_.begin(), group_.end(), [&](int g) { return g != group_[0]; });
}

size_t Cluster::add_drop_rule(std::function<bool(const Message&)> rule) {
  drop_rules_.emplace(next_rule_, std::move(rule));
  return next_rule_++;
}

void Cluster::remove_drop_rule(size_t id) {
  drop_rules_.erase(id);
}

// ---- faults ----

void Cluster::trace(const std::string& line) {
  if (trace_) trace_(fmt::format("[{} ms] {}", now_, line));
}

void Cluster::crash(size_t i) {
  Node& n = *nodes_[i];
  if (!n.replica) return;
  n.replica.reset();
  n.fail_countdown = 0;
  n.injected = false;
  ++stats_.crashes;
  trace(n.name + " crashed");
}

Status Cluster::reopen(size_t i) {
  if (up(i)) return Status::ok();
  Node& n = *nodes_[i];
  Status st = open_node(i);
  if (!st) {
    if (n.injected) {
      // The open's recovery work hit the injected failure: still down.
      n.injected = false;
      ++stats_.failed_writes;
      trace(n.name + ": reopen hit the injected write failure: " + st.to_string());
    } else {
      errors_.push_back(fmt::format("{}: reopen failed: {}", n.name, st.to_string()));
    }
    return st;
  }
  trace(n.name + " reopened");
  broadcast_heads(i);
  request_wants(i);
  return Status::ok();
}

void Cluster::reopen_later(size_t i, uint64_t delay_ms) {
  at(delay_ms, [this, i] {
    if (up(i)) return;
    Status st = reopen(i);
    if (!st && errors_.empty()) reopen_later(i, std::max<uint64_t>(opts_.restart_ms, 1));
  });
}

void Cluster::fail_writes_after(size_t i, size_t n) {
  nodes_[i]->fail_countdown = n;
  nodes_[i]->injected = false;
}

bool Cluster::failed(size_t i, const char* what, const Status& st) {
  Node& n = *nodes_[i];
  if (n.injected) {
    ++stats_.failed_writes;
    trace(fmt::format("{}: {} hit the injected write failure", n.name, what));
    crash(i);
    if (opts_.restart_ms) reopen_later(i, opts_.restart_ms);
  } else {
    errors_.push_back(
        fmt::format("{}: {} failed at {} ms: {}", n.name, what, now_, st.to_string()));
  }
  return false;
}

// ---- running ----

void Cluster::tick() {
  auto now = std::chrono::steady_clock::time_point(std::chrono::milliseconds(now_));
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (!up(i)) continue;
    auto heads = nodes_[i]->replica->tick(now);
    if (!heads.empty())
      for (size_t p = 0; p < nodes_.size(); ++p)
        if (p != i) send(Message{MsgKind::heads, i, p, heads, {}});
    if (up(i) && now_ >= nodes_[i]->next_retry) {
      nodes_[i]->next_retry = now_ + opts_.retry_ms;
      request_wants(i);
    }
  }
  push(now_ + opts_.tick_ms, std::nullopt, [this] { tick(); });
}

void Cluster::deliver(const Message& m) {
  if (!up(m.to) || !connected(m.from, m.to)) {
    ++stats_.dropped;
    return;
  }
  ++stats_.delivered;
  Replica& r = *nodes_[m.to]->replica;
  switch (m.kind) {
    case MsgKind::heads: {
      auto wants = r.on_heads(name(m.from), m.cids);
      if (!wants) {
        failed(m.to, "on_heads", wants.status());
        return;
      }
      std::vector<Cid> cids;
      for (auto& w : *wants) cids.push_back(std::move(w.cid));
      for (size_t off = 0; off < cids.size(); off += opts_.want_batch) {
        size_t end = std::min(cids.size(), off + opts_.want_batch);
        send(Message{MsgKind::request, m.to, m.from, {cids.begin() + off, cids.begin() + end}, {}});
      }
      return;
    }
    case MsgKind::request: {
      std::vector<IncomingBlock> blocks;
      Status st = r.store().read([&](const Txn& txn) {
        for (const auto& cid : m.cids)
          if (auto b = txn.get(r.store().dbs().blocks, cid.view()))
            blocks.push_back({cid, Bytes(b->begin(), b->end())});
        return Status::ok();
      });
      if (!st) {
        failed(m.to, "serving blocks", st);
        return;
      }
      if (!blocks.empty()) send(Message{MsgKind::blocks, m.to, m.from, {}, std::move(blocks)});
      return;
    }
    case MsgKind::blocks: {
      auto res = r.on_blocks(m.blocks);
      if (!res) {
        failed(m.to, "on_blocks", res.status());
        return;
      }
      for (const auto& why : res->rejected)
        errors_.push_back(fmt::format("{}: rejected a block from {} at {} ms: {}", name(m.to),
                                      name(m.from), now_, why));
      std::map<size_t, std::vector<Cid>> by_peer;
      for (auto& w : res->wants) {
        auto hint = index_of(w.peer);
        by_peer[hint && *hint != m.to ? *hint : m.from].push_back(std::move(w.cid));
      }
      for (auto& [to, cids] : by_peer)
        for (size_t off = 0; off < cids.size(); off += opts_.want_batch) {
          size_t end = std::min(cids.size(), off + opts_.want_batch);
          send(Message{MsgKind::request, m.to, to, {cids.begin() + off, cids.begin() + end}, {}});
        }
      return;
    }
  }
}

void Cluster::step() {
  if (queue_.empty()) return;
  std::pop_heap(queue_.begin(), queue_.end(), Later{});
  Event ev = std::move(queue_.back());
  queue_.pop_back();
  now_ = std::max(now_, ev.time);
  ++stats_.steps;
  if (ev.msg) {
    --in_flight_;
    deliver(*ev.msg);
  } else if (ev.fn) {
    ev.fn();
  }
}

void Cluster::run_for(uint64_t ms) {
  uint64_t end = now_ + ms;
  while (!queue_.empty() && queue_.front().time <= end) step();
  now_ = std::max(now_, end);
}

bool Cluster::run_until_quiet(size_t max_steps) {
  for (size_t s = 0; s < max_steps && errors_.empty(); ++s) {
    if (in_flight_ == 0 && quiet()) return true;
    step();
  }
  return errors_.empty() && in_flight_ == 0 && quiet();
}

bool Cluster::quiet() {
  if (in_flight_ != 0) return false;
  std::optional<std::vector<Cid>> first;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (!up(i)) return false;
    auto w = nodes_[i]->replica->wants(1);
    if (!w || !w->empty()) return false;
    auto h = sorted_heads(i);
    if (!h) return false;
    if (!first) {
      first = std::move(*h);
    } else if (*h != *first) {
      return false;
    }
  }
  return true;
}

}  // namespace trellis::sim
