// rogue-peer: an untrusted cluster member for the follower tests. It knows
// the cluster secret, so peers accept its connections, and it does every
// wrong thing a follower must shrug off:
//  - publishes heads of its own blocks, correctly signed by itself;
//  - relays the trusted peers' head announcements unchanged (so a follower
//    connected only to it hears about trusted heads and asks it for the
//    blocks), and forged copies of them: another CID list under the trusted
//    origin, with the original (now invalid) signature;
//  - answers `heads` with its own heads, `blocks.get` and `blocks.subdag`
//    with tampered blocks (its own block bytes under the CIDs asked for)
//    and its own blocks under their real CIDs, and refuses peer exchange.
// It is built on Connection, not Node, to be free to send such frames.
//
//   rogue-peer SECRET_HEX STORE_DIR PORT [DIAL_MULTIADDR...]
// Prints "ready PEER_ID" once listening; counters go to stderr every 2 s.
#include <boost/asio/signal_set.hpp>

#include <cstdio>
#include <set>

#include "crdt/replica.h"
#include "net/connection.h"
#include "net/exchange.h"
#include "net/multiaddr.h"
#include "net/pubsub.h"
#include "pinning/pin.h"

namespace {

using namespace trellis;
using namespace trellis::net;

constexpr std::string_view kHeadsTopic = "trellis/heads/1";

class Rogue final : public ConnectionHandler {
 public:
  Rogue(asio::io_context& io, ClusterSecret secret, std::vector<IncomingBlock> blocks)
      : io_(io), self_(Identity::generate()), secret_(secret), blocks_(std::move(blocks)),
        acceptor_(io), timer_(io) {
    for (const auto& b : blocks_) own_heads_.push_back(b.cid);
  }

  const PeerId& id() const { return self_.id(); }

  Status listen(uint16_t port) {
    error_code ec;
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
    if (acceptor_.open(ep.protocol(), ec) || acceptor_.bind(ep, ec) || acceptor_.listen(64, ec))
      return Status(Code::io_error, "listen: " + ec.message());
    asio::co_spawn(io_, accept_loop(), asio::detached);
    asio::co_spawn(io_, tick_loop(), asio::detached);
    return Status::ok();
  }

  void dial(const Multiaddr& a) {
    asio::co_spawn(
        io_,
        [this, a]() -> awaitable<void> {
          tcp::socket sock(io_);
          error_code ec;
          tcp::endpoint ep(asio::ip::make_address(a.host), a.port);
          co_await sock.async_connect(ep, with_ec(ec));
          if (ec) co_return;
          start(std::move(sock), true, a.peer);
        },
        asio::detached);
  }

  void on_ready(const std::shared_ptr<Connection>& c) override {
    conns_.insert(c);
    c->send(Lane::control, Hello{kProtocolVersion, "rogue/0", {}});
    publish_own(c);
  }

  void on_message(const std::shared_ptr<Connection>& c, Message&& m) override {
    if (auto* p = std::get_if<Publish>(&m)) on_publish(c, *p);
    if (auto* r = std::get_if<Request>(&m)) on_request(c, *r);
  }

  void on_closed(const std::shared_ptr<Connection>& c, const Status&) override { conns_.erase(c); }

 private:
  void start(tcp::socket sock, bool outbound, PeerId expected) {
    auto c = std::make_shared<Connection>(std::move(sock), outbound, self_, secret_, expected,
                                          ConnectionOptions{}, *this);
    c->start();
  }

  awaitable<void> accept_loop() {
    for (;;) {
      error_code ec;
      tcp::socket sock = co_await acceptor_.async_accept(with_ec(ec));
      if (ec) co_return;
      start(std::move(sock), false, {});
    }
  }

  awaitable<void> tick_loop() {
    for (;;) {
      timer_.expires_after(std::chrono::seconds(2));
      error_code ec;
      co_await timer_.async_wait(with_ec(ec));
      for (const auto& c : conns_) {
        publish_own(c);
        if (last_genuine_) send_forged(c, *last_genuine_);
      }
      std::fprintf(stderr,
                   "rogue: %zu connections, %llu own heads sent, %llu genuine relayed, %llu forged, "
                   "%llu tampered blocks served\n",
                   conns_.size(), (unsigned long long)own_sent_, (unsigned long long)relayed_,
                   (unsigned long long)forged_, (unsigned long long)tampered_);
    }
  }

  void publish_own(const std::shared_ptr<Connection>& c) {
    auto m = sign_pubsub(self_, std::string(kHeadsTopic), ++seqno_, encode_cids(own_heads_));
    c->send(Lane::control, Publish{encode_pubsub(m)});
    ++own_sent_;
  }

  // The trusted origin and seqno+1 (not a duplicate) with our heads as the
  // data; the signature no longer matches.
  void send_forged(const std::shared_ptr<Connection>& c, PubsubMessage m) {
    m.seqno += 1'000'000 + ++forged_;
    m.data = encode_cids(own_heads_);
    c->send(Lane::control, Publish{encode_pubsub(m)});
  }

  void on_publish(const std::shared_ptr<Connection>& from, const Publish& p) {
    auto m = decode_pubsub(p.message);
    if (!m || m->topic != kHeadsTopic || m->origin == self_.id()) return;
    if (!relayed_seen_.insert({m->origin.to_string(), m->seqno}).second) return;
    last_genuine_ = *m;
    for (const auto& c : conns_) {
      if (c == from) continue;
      c->send(Lane::control, p);
      ++relayed_;
      send_forged(c, *m);
    }
  }

  // Our blocks under the CIDs asked for, then our blocks as they are.
  Bytes tampered(std::span<const Cid> asked) {
    std::vector<IncomingBlock> out;
    for (size_t i = 0; i < asked.size() && i < 256; ++i)
      out.push_back({asked[i], blocks_[i % blocks_.size()].bytes});
    tampered_ += out.size();
    for (const auto& b : blocks_) out.push_back(b);
    return encode_blocks(out);
  }

  void on_request(const std::shared_ptr<Connection>& c, const Request& r) {
    Response res{r.id, Code::ok, "", {}};
    if (r.method == "heads") {
      res.body = encode_cids(own_heads_);
    } else if (r.method == "blocks.get") {
      auto cids = decode_cids(r.body, kMaxGetCids);
      if (cids) res.body = tampered(*cids);
    } else if (r.method == "blocks.subdag") {
      auto req = decode_subdag_request(r.body);
      if (req) c->send(Lane::bulk, StreamData{r.id, tampered(req->roots)});
    } else {
      res.code = Code::denied;
      res.error = "rogue says no";
    }
    c->send(r.method.starts_with("blocks.") ? Lane::bulk : Lane::control, res);
  }

  asio::io_context& io_;
  Identity self_;
  ClusterSecret secret_;
  std::vector<IncomingBlock> blocks_;
  std::vector<Cid> own_heads_;
  tcp::acceptor acceptor_;
  asio::steady_timer timer_;
  std::set<std::shared_ptr<Connection>> conns_;
  std::set<std::pair<std::string, uint64_t>> relayed_seen_;
  std::optional<PubsubMessage> last_genuine_;
  uint64_t seqno_ = 0, own_sent_ = 0, relayed_ = 0, forged_ = 0, tampered_ = 0;
};

// A store with a few rogue pins (pin-everywhere, so a follower that took
// them would pin them); returns its head blocks.
Result<std::vector<IncomingBlock>> make_blocks(const std::string& dir) {
  auto replica = Replica::open(dir, ReplicaOptions{});
  if (!replica) return replica.status();
  for (int i = 0; i < 3; ++i) {
    pinning::Pin pin;
    std::string content = "rogue content " + std::to_string(i);
    pin.cid = Cid::sha256(0x55, as_bytes(content));  // raw
    pin.name = "rogue-" + std::to_string(i);
    pin.replication_factor_min = pin.replication_factor_max = -1;
    TRELLIS_TRY((*replica)->put(pinning::pin_key(pin.cid), pinning::encode_pin(pin)).status());
  }
  auto heads = (*replica)->heads();
  if (!heads) return heads.status();
  std::vector<IncomingBlock> out;
  TRELLIS_TRY((*replica)->store().read([&](const Txn& txn) {
    for (const auto& h : *heads) {
      auto b = txn.get((*replica)->store().dbs().blocks, h.view());
      if (b) out.push_back({h, Bytes(b->begin(), b->end())});
    }
    return Status::ok();
  }));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: rogue-peer SECRET_HEX STORE_DIR PORT [DIAL_MULTIADDR...]\n");
    return 2;
  }
  auto secret = ClusterSecret::parse_hex(argv[1]);
  auto blocks = make_blocks(argv[2]);
  if (!secret || !blocks || blocks->empty()) {
    std::fprintf(stderr, "rogue-peer: bad secret or cannot build blocks\n");
    return 1;
  }
  asio::io_context io;
  Rogue rogue(io, *secret, std::move(*blocks));
  if (Status st = rogue.listen(static_cast<uint16_t>(std::stoi(argv[3]))); !st) {
    std::fprintf(stderr, "rogue-peer: %s\n", st.message().c_str());
    return 1;
  }
  for (int i = 4; i < argc; ++i)
    if (auto a = Multiaddr::parse(argv[i]); a && a->has_peer()) rogue.dial(*a);
  std::printf("ready %s\n", rogue.id().to_string().c_str());
  std::fflush(stdout);
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const error_code&, int) { io.stop(); });
  io.run();
  return 0;
}
