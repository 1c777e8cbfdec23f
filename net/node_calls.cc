// Node: peer RPC (both sides), pubsub plumbing and the built-in methods.
#include "crdt/pack.h"
#include "net/node.h"
#include "net/exchange.h"
#include "net/node_internal.h"

namespace trellis::net {

namespace {

constexpr auto kExchangeTimeout = std::chrono::seconds(10);

}  // namespace

// ---- the callee ----

awaitable<bool> ServerCall::send(Bytes item) {
  auto c = conn_.lock();
  if (!c || *cancelled_) co_return false;
  if (!co_await c->wait_queue_below(c->queued_bytes() > 0 ? c->queued_bytes() / 2 : 0) ||
      *cancelled_)
    co_return false;
  co_return c->send(lane_, StreamData{id_, std::move(item)});
}

bool ServerCall::cancelled() const { return *cancelled_; }

void Node::handle(std::string method, Policy policy, Method fn, Lane lane) {
  methods_[std::move(method)] = Handler{policy, std::move(fn), lane};
}

void Node::serve(const std::shared_ptr<Connection>& c, Request&& r) {
  ++counters_.calls_received;
  Peer& peer = *conns_.at(c->remote());
  auto refuse = [&](Code code, std::string why) {
    ++counters_.calls_denied;
    c->send(Lane::control, Response{r.id, code, std::move(why), {}});
  };
  auto it = methods_.find(r.method);
  if (it == methods_.end() || it->second.policy == Policy::closed)
    return refuse(Code::unsupported, "method " + r.method + " is not served here");
  if (it->second.policy == Policy::trusted && !trusted(c->remote()))
    return refuse(Code::denied, "method " + r.method + " is for trusted peers only");
  if (peer.serving.size() >= opts_.max_calls_per_peer || peer.serving.count(r.id))
    return refuse(Code::busy, "too many calls in flight (limit " +
                                  std::to_string(opts_.max_calls_per_peer) + ")");
  auto call = std::make_shared<ServerCall>();
  call->conn_ = c;
  call->peer_ = c->remote();
  call->id_ = r.id;
  call->body_ = std::move(r.body);
  call->lane_ = it->second.lane;
  call->cancelled_ = std::make_shared<bool>(false);
  peer.serving[r.id] = call->cancelled_;
  Method fn = it->second.fn;
  asio::co_spawn(
      io_,
      [this, c, call, fn]() -> awaitable<void> {
        Result<Bytes> out = co_await fn(*call);
        auto p = conns_.find(c->remote());
        if (p != conns_.end() && p->second->conn == c) p->second->serving.erase(call->id_);
        if (*call->cancelled_) co_return;
        Response resp{call->id_, out.status().code(), out ? "" : out.status().message(), {}};
        if (out) resp.body = std::move(*out);
        c->send(call->lane_, resp);
      },
      asio::detached);
}

// ---- the caller ----

awaitable<Result<Bytes>> Node::call(PeerId peer, std::string method, Bytes body,
                                    std::chrono::milliseconds timeout, ItemSink sink) {
  auto it = conns_.find(peer);
  if (it == conns_.end())
    co_return Status(Code::unavailable, "not connected to " + peer.to_string());
  auto conn = it->second->conn;
  uint64_t id = next_call_id_++;
  auto pc = std::make_shared<PendingCall>(io_.get_executor());
  pc->timeout = timeout;
  pc->sink = std::move(sink);
  it->second->calls[id] = pc;
  ++counters_.calls_sent;
  if (!conn->send(Lane::control, Request{id, method, std::move(body)}))
    pc->finish(Status(Code::unavailable, "connection to " + peer.to_string() + " is closing"));
  pc->timer.expires_after(timeout);
  while (!pc->done) {
    error_code ec;
    co_await pc->timer.async_wait(with_ec(ec));
    if (!pc->done && !ec) {  // the timer ran out (progress re-arms it)
      ++counters_.call_timeouts;
      conn->send(Lane::control, Cancel{id});
      pc->finish(Status(Code::unavailable, peer.to_string() + " did not answer " + method +
                                               " within " + std::to_string(timeout.count()) +
                                               " ms"));
    }
  }
  if (auto p = conns_.find(peer); p != conns_.end()) p->second->calls.erase(id);
  co_return std::move(*pc->result);
}

void Node::on_response(const std::shared_ptr<Connection>& c, Response&& r) {
  auto& calls = conns_.at(c->remote())->calls;
  auto it = calls.find(r.id);
  if (it == calls.end()) return;  // cancelled or timed out meanwhile
  auto pc = it->second;
  calls.erase(it);
  if (r.code == Code::ok) pc->finish(std::move(r.body));
  else pc->finish(Status(r.code, c->remote().to_string() + ": " + r.error));
}

void Node::on_stream_data(const std::shared_ptr<Connection>& c, StreamData&& d) {
  auto& calls = conns_.at(c->remote())->calls;
  auto it = calls.find(d.id);
  if (it == calls.end()) return;
  auto pc = it->second;
  Status st = pc->sink ? pc->sink(d.body)
                       : Status(Code::corrupt, "unexpected stream data for a plain call");
  if (pc->done) return;  // the sink may have ended things (e.g. a disconnect)
  if (!st) {
    calls.erase(d.id);
    c->send(Lane::control, Cancel{d.id});
    pc->finish(st);
    return;
  }
  pc->timer.expires_after(pc->timeout);  // progress: wakes the waiter, which waits again
}

// ---- pubsub ----

Status Node::subscribe(std::string topic, Pubsub::Handler handler) {
  return pubsub_.subscribe(std::move(topic), std::move(handler));
}

Status Node::set_validator(std::string topic, Pubsub::Validator validator) {
  return pubsub_.set_validator(std::move(topic), std::move(validator));
}

Status Node::publish(std::string_view topic, ByteView data) {
  auto peers = connected();
  auto out = pubsub_.publish(topic, data, peers, PubsubClock::now());
  if (!out) return out.status();
  for (const auto& p : out->send_to) conns_.at(p)->conn->send(Lane::control, Publish{out->encoded});
  return Status::ok();
}

void Node::on_publish(const std::shared_ptr<Connection>& c, Publish&& p) {
  auto peers = connected();
  auto r = pubsub_.on_message(c->remote(), p.message, peers, PubsubClock::now());
  for (const auto& to : r.forward_to) {
    auto it = conns_.find(to);
    if (it != conns_.end()) it->second->conn->send(Lane::control, Publish{p.message});
  }
}

// ---- built-in methods ----

awaitable<void> Node::exchange_peers(PeerId peer) {
  auto mine = encode_exchange(peers_.exchange_snapshot(peer));
  auto reply = co_await call(peer, "peers.exchange", std::move(mine), kExchangeTimeout);
  if (!reply) co_return;
  const auto& o = peers_.options();
  auto theirs = decode_exchange(*reply, o.max_exchange, o.max_addrs);
  if (!theirs) {
    log(LogLevel::warn, "bad peer exchange from " + peer.to_string() + ": " + theirs.status().message());
    co_return;
  }
  auto counts = peers_.merge_exchange(peer, *theirs, WallClock::now());
  if (counts.added) log(LogLevel::debug, "learned " + std::to_string(counts.added) + " peers from " +
                        peer.to_string());
}

void Node::register_builtins() {
  handle("peers.exchange", Policy::open, [this](ServerCall& call) -> awaitable<Result<Bytes>> {
    const auto& o = peers_.options();
    auto theirs = decode_exchange(call.body(), o.max_exchange, o.max_addrs);
    if (theirs) peers_.merge_exchange(call.peer(), *theirs, WallClock::now());
    co_return encode_exchange(peers_.exchange_snapshot(call.peer()));
  });
  handle("id", Policy::open, [this](ServerCall&) -> awaitable<Result<Bytes>> {
    msgpack::sbuffer buf;
    pack::Packer pk(buf);
    pk.pack_array(4);
    pack::str(pk, id().to_string());
    pack::str(pk, opts_.agent);
    pk.pack_uint32(kProtocolVersion);
    auto addrs = listen_addrs();
    pk.pack_array(static_cast<uint32_t>(addrs.size()));
    for (const auto& a : addrs) pack::str(pk, a.to_string());
    co_return pack::to_bytes(buf);
  });
  handle("metrics", Policy::trusted, [this](ServerCall&) -> awaitable<Result<Bytes>> {
    const auto& n = counters_;
    const auto& p = pubsub_.counters();
    std::pair<const char*, uint64_t> fields[] = {
        {"peers", conns_.size()},         {"known_peers", peers_.size()},
        {"dials", n.dials},               {"dial_failures", n.dial_failures},
        {"inbound", n.inbound},           {"handshake_failures", n.handshake_failures},
        {"calls_sent", n.calls_sent},     {"calls_received", n.calls_received},
        {"calls_denied", n.calls_denied}, {"call_timeouts", n.call_timeouts},
        {"pubsub_published", p.published}, {"pubsub_accepted", p.accepted},
        {"pubsub_duplicates", p.duplicates}, {"pubsub_rejected", p.rejected},
        {"pubsub_forwarded", p.forwarded},
    };
    msgpack::sbuffer buf;
    pack::Packer pk(buf);
    pk.pack_map(static_cast<uint32_t>(std::size(fields)));
    for (const auto& [k, v] : fields) {
      pack::str(pk, k);
      pk.pack_uint64(v);
    }
    co_return pack::to_bytes(buf);
  });
}

}  // namespace trellis::net
