// A peer on the network (Boost.Asio, one thread): listens, dials, keeps
// secure connections, runs pubsub and typed peer RPC over them.
//
// What it owns: the listeners, every Connection, the PeerStore (saved to
// `peerstore_path`), the Pubsub state and the method table. What it does not
// do: anything about the CRDT; the replicator (daemon/) registers methods and
// topics on it.
//
// Threading: all members must be called on the io_context's thread, which is
// also where handlers and methods run. stop() closes listeners and
// connections, fails pending calls and lets the loops end, so io_context::run
// returns once nothing else is queued.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "crdt/log.h"
#include "net/asio.h"
#include "net/connection.h"
#include "net/identity.h"
#include "net/multiaddr.h"
#include "net/peerstore.h"
#include "net/pubsub.h"

namespace trellis::net {

// Who may call a method; enforced by the callee.
enum class Policy : uint8_t { open, trusted, closed };

struct NodeOptions {
  std::vector<Multiaddr> listen;     // e.g. /ip4/127.0.0.1/tcp/9096; port 0 = any
  std::vector<Multiaddr> bootstrap;  // each with /p2p/<peer ID>
  std::string peerstore_path;        // empty: not persisted
  size_t max_connections = 64;
  size_t max_handshakes = 32;        // inbound handshakes in progress at once
  size_t max_calls_per_peer = 64;    // concurrent incoming calls per connection
  std::chrono::milliseconds dial_timeout{5'000};
  std::chrono::milliseconds dial_interval{500};  // how often the dialer looks
  ConnectionOptions connection;
  PeerStoreOptions peerstore;
  PubsubOptions pubsub;
  std::string agent = "trellis/0.1.0";
  // Trusted peers may call `trusted` methods; default: everyone.
  std::function<bool(const PeerId&)> trusted;
  // Log lines ("connected to 12D3…"); default: none.
  LogFn log;
};

// The callee's side of one call.
class ServerCall {
 public:
  const PeerId& peer() const { return peer_; }
  ByteView body() const { return body_; }
  // Sends one stream item, first waiting while the connection's send queue
  // is over half full. False when the caller cancelled or disconnected.
  awaitable<bool> send(Bytes item);
  bool cancelled() const;

 private:
  friend class Node;
  std::weak_ptr<Connection> conn_;
  PeerId peer_;
  uint64_t id_ = 0;
  Bytes body_;
  Lane lane_ = Lane::control;
  std::shared_ptr<bool> cancelled_;
};

using Method = std::function<awaitable<Result<Bytes>>(ServerCall&)>;
// Receives stream items of a call; a failed Status cancels the call.
using ItemSink = std::function<Status(ByteView)>;

struct NodeCounters {
  uint64_t dials = 0, dial_failures = 0, inbound = 0, handshake_failures = 0;
  uint64_t calls_sent = 0, calls_received = 0, calls_denied = 0, call_timeouts = 0;
  // Bytes on the wire (frames, encrypted) of connections that have closed;
  // Node::traffic() adds the live ones.
  uint64_t closed_bytes_sent = 0, closed_bytes_received = 0;
};

// Bytes on the wire since the node started, over every connection.
struct Traffic {
  uint64_t sent = 0, received = 0;
};

class Node : public ConnectionHandler {
 public:
  Node(asio::io_context& io, Identity self, ClusterSecret secret, NodeOptions opts);
  ~Node() override;

  // Opens the listeners (failing with a clear message, e.g. a port in use)
  // and starts dialing the bootstrap and stored peers.
  Status start();
  void stop();

  asio::io_context& io() { return io_; }
  const Identity& identity() const { return self_; }
  const PeerId& id() const { return self_.id(); }
  // The bound listen addresses (port 0 resolved), with /p2p/<our ID>.
  std::vector<Multiaddr> listen_addrs() const;

  // ---- methods ----
  // `lane`: bulk for methods that answer with block data.
  void handle(std::string method, Policy policy, Method fn, Lane lane = Lane::control);
  // Calls `method` on a connected peer. `timeout` bounds the wait for the
  // next stream item or the response, so long streams do not time out.
  awaitable<Result<Bytes>> call(PeerId peer, std::string method, Bytes body,
                                std::chrono::milliseconds timeout, ItemSink sink = {});

  // ---- pubsub ----
  Status subscribe(std::string topic, Pubsub::Handler handler);
  Status set_validator(std::string topic, Pubsub::Validator validator);
  Status publish(std::string_view topic, ByteView data);
  const PubsubCounters& pubsub_counters() const { return pubsub_.counters(); }

  // ---- peers ----
  std::vector<PeerId> connected() const;
  bool is_connected(const PeerId& p) const;
  // Called on the io thread whenever a peer connects (true) or goes (false).
  void on_peer(std::function<void(const PeerId&, bool up)> fn) { peer_fn_ = std::move(fn); }
  const PeerStore& peerstore() const { return peers_; }
  // Dials an address (with /p2p/) now, outside the backoff schedule.
  void dial(const Multiaddr& addr);
  // Closes the connection to `p` and drops it from the peer store (it is
  // no longer dialed). A peer that is still running may connect again.
  void forget(const PeerId& p);
  const NodeCounters& counters() const { return counters_; }
  // Closed connections' bytes plus the live (and handshaking) ones'.
  Traffic traffic() const;
  bool trusted(const PeerId& p) const { return !opts_.trusted || opts_.trusted(p); }

  // ConnectionHandler
  void on_ready(const std::shared_ptr<Connection>& c) override;
  void on_message(const std::shared_ptr<Connection>& c, Message&& m) override;
  void on_closed(const std::shared_ptr<Connection>& c, const Status& why) override;

 private:
  struct PendingCall;
  struct Peer;

  awaitable<void> accept_loop(std::shared_ptr<tcp::acceptor> acceptor);
  awaitable<void> dial_loop();
  awaitable<void> dial_one(DialTarget target);
  void adopt(const std::shared_ptr<Connection>& c);
  void serve(const std::shared_ptr<Connection>& c, Request&& r);
  void on_response(const std::shared_ptr<Connection>& c, Response&& r);
  void on_stream_data(const std::shared_ptr<Connection>& c, StreamData&& d);
  void on_publish(const std::shared_ptr<Connection>& c, Publish&& p);
  void on_hello(const std::shared_ptr<Connection>& c, Hello&& h);
  void register_builtins();
  awaitable<void> exchange_peers(PeerId peer);
  void log(LogLevel level, const std::string& line) const;
  void save_peers();

  asio::io_context& io_;
  Identity self_;
  ClusterSecret secret_;
  NodeOptions opts_;
  PeerStore peers_;
  Pubsub pubsub_;
  std::vector<std::shared_ptr<tcp::acceptor>> acceptors_;
  std::set<std::shared_ptr<Connection>> handshaking_;
  std::map<PeerId, std::unique_ptr<Peer>> conns_;  // one live connection per peer
  std::set<PeerId> dialing_;
  std::set<tcp::socket*> dial_sockets_;  // connects in flight; stop() closes them
  struct Handler {
    Policy policy;
    Method fn;
    Lane lane;
  };
  std::map<std::string, Handler, std::less<>> methods_;
  std::function<void(const PeerId&, bool)> peer_fn_;
  asio::steady_timer dial_timer_;
  uint64_t next_call_id_ = 1;
  bool stopped_ = false;
  NodeCounters counters_;
};

}  // namespace trellis::net
