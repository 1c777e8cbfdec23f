#include "net/node.h"

#include <boost/asio/connect.hpp>

#include <random>

#include "net/node_internal.h"

namespace trellis::net {

namespace {

uint64_t wall_nanos() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// Which side's dial wins when two peers dial each other at once: the one
// with the smaller peer ID. Both sides compute the same answer.
bool preferred(const Connection& c, const PeerId& self) {
  const PeerId& initiator = c.outbound() ? self : c.remote();
  return initiator == std::min(self, c.remote());
}

}  // namespace

Node::Node(asio::io_context& io, Identity self, ClusterSecret secret, NodeOptions opts)
    : io_(io),
      self_(std::move(self)),
      secret_(secret),
      opts_(std::move(opts)),
      peers_(self_.id(), opts_.peerstore),
      pubsub_(self_, wall_nanos(), opts_.pubsub),
      dial_timer_(io) {
  register_builtins();
}

Node::~Node() = default;

void Node::log(LogLevel level, const std::string& line) const {
  if (opts_.log) opts_.log(level, line);
}

Status Node::start() {
  auto now = WallClock::now();
  if (!opts_.peerstore_path.empty()) {
    Status st = peers_.load(opts_.peerstore_path, now);
    if (!st && st.code() != Code::not_found)
      log(LogLevel::warn, "peer store " + opts_.peerstore_path + " not loaded (" + st.message() +
          "); starting from the bootstrap list");
  }
  for (const auto& b : opts_.bootstrap) {
    if (!b.has_peer())
      return invalid("bootstrap address " + b.to_string() + " has no /p2p/<peer ID>");
    if (b.peer == id()) continue;
    Multiaddr addr = b.without_peer();
    TRELLIS_TRY(peers_.add(b.peer, std::span(&addr, 1), PeerSource::bootstrap, now));
  }
  for (const auto& l : opts_.listen) {
    if (l.kind != Multiaddr::Kind::ip4)
      return invalid("listen address " + l.to_string() + " must be /ip4/…/tcp/…");
    error_code ec;
    auto address = asio::ip::make_address_v4(l.host, ec);
    if (ec) return invalid("listen address " + l.to_string() + ": " + ec.message());
    auto acc = std::make_shared<tcp::acceptor>(io_);
    tcp::endpoint ep(address, l.port);
    if (!acc->open(ep.protocol(), ec) && !acc->set_option(tcp::acceptor::reuse_address(true), ec) &&
        !acc->bind(ep, ec) && !acc->listen(asio::socket_base::max_listen_connections, ec)) {
      acceptors_.push_back(acc);
      asio::co_spawn(io_, accept_loop(acc), asio::detached);
      continue;
    }
    return Status(Code::unavailable, "cannot listen on " + l.to_string() + ": " + ec.message() +
                                         (ec == asio::error::address_in_use
                                              ? " (another process uses the port; pick another)"
                                              : ""));
  }
  asio::co_spawn(io_, dial_loop(), asio::detached);
  return Status::ok();
}

void Node::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& a : acceptors_) {
    error_code ec;
    a->close(ec);
  }
  dial_timer_.cancel();
  for (auto* s : dial_sockets_) {
    error_code ec;
    s->close(ec);  // fails the connect at once
  }
  for (auto c : std::set(handshaking_)) c->close(Status(Code::unavailable, "node stopping"));
  std::vector<std::shared_ptr<Connection>> live;
  for (auto& [id, p] : conns_) live.push_back(p->conn);
  for (auto& c : live) c->close(Status(Code::unavailable, "node stopping"));
  save_peers();
}

std::vector<Multiaddr> Node::listen_addrs() const {
  std::vector<Multiaddr> out;
  for (const auto& a : acceptors_) {
    error_code ec;
    auto ep = a->local_endpoint(ec);
    if (ec) continue;
    Multiaddr m;
    m.host = ep.address().to_string();
    m.port = ep.port();
    m.peer = id();
    out.push_back(m);
  }
  return out;
}

std::vector<PeerId> Node::connected() const {
  std::vector<PeerId> out;
  out.reserve(conns_.size());
  for (const auto& [id, p] : conns_) out.push_back(id);
  return out;
}

bool Node::is_connected(const PeerId& p) const { return conns_.count(p) > 0; }

void Node::save_peers() {
  if (opts_.peerstore_path.empty()) return;
  if (Status st = peers_.save(opts_.peerstore_path); !st)
    log(LogLevel::error, "cannot save the peer store: " + st.message());
}

awaitable<void> Node::accept_loop(std::shared_ptr<tcp::acceptor> acceptor) {
  while (!stopped_) {
    error_code ec;
    tcp::socket sock = co_await acceptor->async_accept(with_ec(ec));
    if (ec) {
      if (stopped_ || ec == asio::error::operation_aborted) co_return;
      log(LogLevel::warn, "accept failed: " + ec.message());
      // Such errors (no descriptors left, say) persist while the connection
      // waits in the queue, and retrying at once would spin: pause first.
      asio::steady_timer pause(io_);
      pause.expires_after(std::chrono::milliseconds(100));
      co_await pause.async_wait(with_ec(ec));
      continue;
    }
    if (handshaking_.size() >= opts_.max_handshakes || conns_.size() >= opts_.max_connections) {
      sock.close(ec);  // over the limits: refuse before spending anything on it
      continue;
    }
    ++counters_.inbound;
    auto c = std::make_shared<Connection>(std::move(sock), false, self_, secret_, PeerId(),
                                          opts_.connection, *this);
    handshaking_.insert(c);
    c->start();
  }
}

void Node::dial(const Multiaddr& addr) {
  if (stopped_ || !addr.has_peer() || addr.peer == id() || is_connected(addr.peer) ||
      dialing_.count(addr.peer))
    return;
  dialing_.insert(addr.peer);
  asio::co_spawn(io_, dial_one(DialTarget{addr.peer, {addr.without_peer()}}), asio::detached);
}

awaitable<void> Node::dial_loop() {
  int rounds = 0;
  while (!stopped_) {
    size_t busy = conns_.size() + dialing_.size();
    if (busy < opts_.max_connections) {
      for (auto& t : peers_.due(WallClock::now(), opts_.max_connections - busy)) {
        if (is_connected(t.id) || dialing_.count(t.id)) {
          peers_.record_failure(t.id, WallClock::now());
          continue;
        }
        dialing_.insert(t.id);
        asio::co_spawn(io_, dial_one(std::move(t)), asio::detached);
      }
    }
    if (++rounds % 60 == 0) save_peers();
    dial_timer_.expires_after(opts_.dial_interval);
    error_code ec;
    co_await dial_timer_.async_wait(with_ec(ec));
  }
}

awaitable<void> Node::dial_one(DialTarget target) {
  ++counters_.dials;
  std::string last_error = "no address";
  for (const auto& addr : target.addrs) {
    if (stopped_) break;
    tcp::resolver resolver(io_);
    error_code ec;
    auto results = co_await resolver.async_resolve(
        addr.kind == Multiaddr::Kind::dns ? tcp::v4() : tcp::v4(), addr.host,
        std::to_string(addr.port), with_ec(ec));
    if (ec) {
      last_error = addr.to_string() + ": " + ec.message();
      continue;
    }
    tcp::socket sock(io_);
    asio::steady_timer timeout(io_);
    timeout.expires_after(opts_.dial_timeout);
    timeout.async_wait([&sock](const error_code& e) {
      if (!e) {
        error_code ignored;
        sock.close(ignored);
      }
    });
    dial_sockets_.insert(&sock);
    co_await asio::async_connect(sock, results, with_ec(ec));
    dial_sockets_.erase(&sock);
    timeout.cancel();
    if (stopped_) break;
    if (ec || !sock.is_open()) {
      last_error = addr.to_string() + ": " + (ec ? ec.message() : "timed out");
      continue;
    }
    auto c = std::make_shared<Connection>(std::move(sock), true, self_, secret_, target.id,
                                          opts_.connection, *this);
    handshaking_.insert(c);
    c->start();  // dialing_ is cleared when it is ready or closed
    co_return;
  }
  dialing_.erase(target.id);
  if (stopped_) co_return;
  ++counters_.dial_failures;
  peers_.record_failure(target.id, WallClock::now());
  log(LogLevel::info, "cannot reach " + target.id.to_string() + " (" + last_error + ")");
}

void Node::on_ready(const std::shared_ptr<Connection>& c) {
  handshaking_.erase(c);
  if (c->outbound()) dialing_.erase(c->expected());
  if (stopped_) {
    c->close(Status(Code::unavailable, "node stopping"));
    return;
  }
  adopt(c);
}

void Node::adopt(const std::shared_ptr<Connection>& c) {
  const PeerId& remote = c->remote();
  auto it = conns_.find(remote);
  if (it != conns_.end()) {
    auto old = it->second->conn;
    // Keep the preferred dial of the two; of two alike, the newer one.
    if (preferred(*old, id()) && !preferred(*c, id())) {
      c->close(Status(Code::busy, "duplicate connection"));
      return;
    }
    old->close(Status(Code::busy, "replaced by a newer connection"));
  }
  auto now = WallClock::now();
  if (!peers_.find(remote)) (void)peers_.add(remote, {}, PeerSource::inbound, now);
  peers_.record_success(remote, now);
  auto p = std::make_unique<Peer>();
  p->conn = c;
  conns_[remote] = std::move(p);
  std::vector<std::string> addrs;
  for (const auto& a : listen_addrs()) addrs.push_back(a.without_peer().to_string());
  c->send(Lane::control, Hello{kProtocolVersion, opts_.agent, std::move(addrs)});
  log(LogLevel::info, "connected to " + remote.to_string() + " at " + c->endpoint() +
      (c->outbound() ? " (dialed)" : " (inbound)"));
  asio::co_spawn(io_, exchange_peers(remote), asio::detached);
  if (peer_fn_) peer_fn_(remote, true);
}

void Node::on_closed(const std::shared_ptr<Connection>& c, const Status& why) {
  counters_.closed_bytes_sent += c->bytes_sent();
  counters_.closed_bytes_received += c->bytes_received();
  if (handshaking_.erase(c)) {
    if (c->outbound()) {
      dialing_.erase(c->expected());
      // Two peers dialed each other and the other connection won the
      // tie-break (the responder closed ours before confirming it): no failure.
      if (is_connected(c->expected())) return;
    }
    ++counters_.handshake_failures;
    if (c->outbound()) {
      peers_.record_failure(c->expected(), WallClock::now());
      log(LogLevel::warn, "handshake with " + c->expected().to_string() + " at " + c->endpoint() +
          " failed: " + why.message());
    } else {
      log(LogLevel::warn, "inbound handshake from " + c->endpoint() + " failed: " + why.message());
    }
    return;
  }
  auto it = conns_.find(c->remote());
  if (it == conns_.end() || it->second->conn != c) return;  // a replaced duplicate
  auto peer = std::move(it->second);
  conns_.erase(it);
  for (auto& [cid, flag] : peer->serving) *flag = true;
  for (auto& [cid, call] : peer->calls)
    call->finish(Status(Code::unavailable, "connection to " + c->remote().to_string() +
                                               " closed: " + why.message()));
  peers_.record_disconnect(c->remote(), WallClock::now());
  log(LogLevel::info, "disconnected from " + c->remote().to_string() + ": " + why.message());
  if (peer_fn_) peer_fn_(c->remote(), false);
}

Traffic Node::traffic() const {
  Traffic t{counters_.closed_bytes_sent, counters_.closed_bytes_received};
  auto add = [&t](const Connection& c) {
    t.sent += c.bytes_sent();
    t.received += c.bytes_received();
  };
  for (const auto& [id, p] : conns_) add(*p->conn);
  for (const auto& c : handshaking_) add(*c);
  return t;
}

void Node::forget(const PeerId& p) {
  if (auto it = conns_.find(p); it != conns_.end()) {
    std::shared_ptr<Connection> c = it->second->conn;
    c->close(Status(Code::denied, "removed from the cluster"));
  }
  if (peers_.forget(p)) save_peers();
  log(LogLevel::info, "forgot peer " + p.to_string());
}

void Node::on_message(const std::shared_ptr<Connection>& c, Message&& m) {
  auto it = conns_.find(c->remote());
  if (it == conns_.end() || it->second->conn != c) return;
  std::visit(
      [&](auto&& msg) {
        using T = std::decay_t<decltype(msg)>;
        if constexpr (std::is_same_v<T, Request>) serve(c, std::move(msg));
        else if constexpr (std::is_same_v<T, Response>) on_response(c, std::move(msg));
        else if constexpr (std::is_same_v<T, StreamData>) on_stream_data(c, std::move(msg));
        else if constexpr (std::is_same_v<T, Publish>) on_publish(c, std::move(msg));
        else if constexpr (std::is_same_v<T, Hello>) on_hello(c, std::move(msg));
        else if constexpr (std::is_same_v<T, Cancel>) {
          auto& serving = it->second->serving;
          if (auto s = serving.find(msg.id); s != serving.end()) *s->second = true;
        }
      },
      std::move(m));
}

void Node::on_hello(const std::shared_ptr<Connection>& c, Hello&& h) {
  auto now = WallClock::now();
  std::vector<Multiaddr> addrs;
  std::string ip = c->endpoint().substr(0, c->endpoint().rfind(':'));
  for (const auto& text : h.listen_addrs) {
    auto a = Multiaddr::parse(text);
    if (!a || a->has_peer()) continue;
    // A peer listening on every interface is reachable where it came from.
    if (a->kind == Multiaddr::Kind::ip4 && a->host == "0.0.0.0") a->host = ip;
    if (a->is_dialable()) addrs.push_back(*a);
  }
  (void)peers_.add(c->remote(), addrs, PeerSource::inbound, now);
  conns_[c->remote()]->hello = std::move(h);
}

}  // namespace trellis::net
