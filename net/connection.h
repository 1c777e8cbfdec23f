// One secure, multiplexed connection to a peer (Boost.Asio, one thread).
//
// Lifecycle: start() runs the Noise handshake under a deadline (a dialer
// also waits, under the same deadline, for the responder's first transport
// message, which confirms that the responder accepted the session), then a
// reader, a writer and a keep-alive loop. Messages go out through send(),
// which queues them (bounded) on a lane; a full queue closes the
// connection. Incoming messages are handed to the Handler in order per
// lane. close() is idempotent: it cancels everything in flight and calls
// Handler::on_closed exactly once (also for a failed handshake).
//
// Threading: every member must be called on the io_context's thread; the
// object keeps itself alive (shared_from_this) while its loops run.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <optional>
#include <string>

#include "net/asio.h"
#include "net/identity.h"
#include "net/mux.h"
#include "net/secure.h"
#include "net/wire.h"

namespace trellis::net {

struct ConnectionOptions {
  std::chrono::milliseconds handshake_timeout{10'000};
  std::chrono::milliseconds ping_interval{5'000};
  // No bytes received for this long closes the connection.
  std::chrono::milliseconds idle_timeout{20'000};
  // A write that makes no progress for this long closes the connection: the
  // peer stopped reading (it may still ping), and what it holds — a stream
  // being served, a call slot — is released.
  std::chrono::milliseconds write_timeout{20'000};
  // Unsent bytes allowed before the peer counts as too slow.
  size_t max_queued_bytes = size_t{64} << 20;
};

class Connection;

class ConnectionHandler {
 public:
  virtual ~ConnectionHandler() = default;
  // The handshake succeeded; remote() is known.
  virtual void on_ready(const std::shared_ptr<Connection>& c) = 0;
  virtual void on_message(const std::shared_ptr<Connection>& c, Message&& m) = 0;
  // Called once, also when the handshake failed (why says what happened).
  virtual void on_closed(const std::shared_ptr<Connection>& c, const Status& why) = 0;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // expected: for dialers, the peer ID the address named (empty: any).
  Connection(tcp::socket socket, bool outbound, const Identity& self, const ClusterSecret& secret,
             PeerId expected, const ConnectionOptions& opts, ConnectionHandler& handler);

  void start();
  // Queues a message. False when the connection is closed or closing (the
  // queue overflowing closes it).
  bool send(Lane lane, const Message& m);
  // Suspends until at most `bytes` are queued; false if the connection
  // closed meanwhile. Producers of large streams use it for back-pressure.
  awaitable<bool> wait_queue_below(size_t bytes);
  void close(const Status& why);

  bool ready() const { return session_.has_value() && !closed_; }
  bool closed() const { return closed_; }
  bool outbound() const { return outbound_; }
  const PeerId& remote() const { return remote_; }
  const PeerId& expected() const { return expected_; }
  const std::string& endpoint() const { return endpoint_; }  // "1.2.3.4:5678"
  size_t queued_bytes() const { return sender_.queued_bytes(); }
  uint64_t bytes_sent() const { return bytes_sent_; }
  uint64_t bytes_received() const { return bytes_received_; }

 private:
  awaitable<void> run();
  awaitable<Status> handshake();
  awaitable<Status> read_frame(Bytes& out);
  awaitable<void> read_loop();
  awaitable<void> write_loop();
  awaitable<void> keepalive_loop();

  tcp::socket socket_;
  bool outbound_;
  const Identity& self_;
  ClusterSecret secret_;
  PeerId expected_;
  ConnectionOptions opts_;
  ConnectionHandler& handler_;
  std::string endpoint_;
  PeerId remote_;
  std::optional<SecureSession> session_;
  // A dialer's first transport message (plaintext), read by handshake() as
  // the responder's confirmation and handled first by read_loop().
  std::optional<Bytes> first_message_;
  MuxSender sender_;
  MuxReceiver receiver_;
  Signal writable_;   // wakes the writer
  Signal drained_;    // wakes producers waiting for queue space
  asio::steady_timer deadline_;
  asio::steady_timer keepalive_;
  std::chrono::steady_clock::time_point last_rx_;
  // Set while a write is under way: when it last made progress.
  std::optional<std::chrono::steady_clock::time_point> last_tx_progress_;
  bool closed_ = false;
  uint64_t bytes_sent_ = 0, bytes_received_ = 0;
};

}  // namespace trellis::net
