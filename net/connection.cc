#include "net/connection.h"

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace trellis::net {

namespace {

// TCP_RTO_MAX_MS (Linux 6.11); older headers do not name it.
constexpr int kTcpRtoMaxMs = 44;

// Bytes of encrypted frames gathered into one write.
constexpr size_t kWriteBatch = size_t{256} << 10;

Status io_status(const error_code& ec, const char* what) {
  if (ec == asio::error::eof) return Status(Code::unavailable, std::string(what) + ": peer closed the connection");
  return Status(Code::unavailable, std::string(what) + ": " + ec.message());
}

void put_u16(Bytes& out, size_t at, size_t n) {
  out[at] = static_cast<uint8_t>(n >> 8);
  out[at + 1] = static_cast<uint8_t>(n);
}

}  // namespace

Connection::Connection(tcp::socket socket, bool outbound, const Identity& self,
                       const ClusterSecret& secret, PeerId expected,
                       const ConnectionOptions& opts, ConnectionHandler& handler)
    : socket_(std::move(socket)),
      outbound_(outbound),
      self_(self),
      secret_(secret),
      expected_(std::move(expected)),
      opts_(opts),
      handler_(handler),
      sender_(opts.max_queued_bytes),
      receiver_(kMaxMessageBytes),
      writable_(socket_.get_executor()),
      drained_(socket_.get_executor()),
      deadline_(socket_.get_executor()),
      keepalive_(socket_.get_executor()) {
  error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  endpoint_ = ec ? "?" : ep.address().to_string() + ":" + std::to_string(ep.port());
  socket_.set_option(tcp::no_delay(true), ec);
  // Retransmit at least every second, so a connection that lived through a
  // short partition resumes within a second of the heal instead of after
  // TCP's exponential backoff (up to minutes). Kernels before 6.11 lack the
  // option; they keep the default. The user timeout keeps the kernel from
  // giving up before our own idle timeout does.
  const int fd = socket_.native_handle();
  const int rto_max_ms = 1000;
  const unsigned user_timeout_ms = static_cast<unsigned>(opts_.idle_timeout.count()) + 10'000;
  (void)::setsockopt(fd, IPPROTO_TCP, kTcpRtoMaxMs, &rto_max_ms, sizeof rto_max_ms);
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof user_timeout_ms);
}

void Connection::start() {
  asio::co_spawn(socket_.get_executor(), [self = shared_from_this()] { return self->run(); },
                 asio::detached);
}

awaitable<void> Connection::run() {
  auto self = shared_from_this();
  // The deadline closes the socket, which fails the pending read or write.
  deadline_.expires_after(opts_.handshake_timeout);
  deadline_.async_wait([weak = weak_from_this()](const error_code& ec) {
    if (auto c = weak.lock(); c && !ec && !c->session_)
      c->close(Status(Code::unavailable, "handshake timed out"));
  });
  Status st = co_await handshake();
  deadline_.cancel();
  if (!st) {
    close(st);
    co_return;
  }
  if (closed_) co_return;
  last_rx_ = std::chrono::steady_clock::now();
  handler_.on_ready(self);
  if (closed_) co_return;
  asio::co_spawn(socket_.get_executor(), [self] { return self->write_loop(); }, asio::detached);
  asio::co_spawn(socket_.get_executor(), [self] { return self->keepalive_loop(); },
                 asio::detached);
  co_await read_loop();
}

awaitable<Status> Connection::read_frame(Bytes& out) {
  uint8_t len[2];
  error_code ec;
  co_await asio::async_read(socket_, asio::buffer(len), with_ec(ec));
  if (ec) co_return io_status(ec, "read");
  size_t n = size_t{len[0]} << 8 | len[1];
  if (n == 0) co_return corrupt("empty frame");
  out.resize(n);
  co_await asio::async_read(socket_, asio::buffer(out), with_ec(ec));
  if (ec) co_return io_status(ec, "read");
  bytes_received_ += n + 2;
  last_rx_ = std::chrono::steady_clock::now();
  co_return Status::ok();
}

awaitable<Status> Connection::handshake() {
  auto hs = outbound_ ? SecureHandshake::initiator(self_, secret_, expected_)
                      : SecureHandshake::responder(self_, secret_);
  Bytes frame;
  while (!hs.done()) {
    if (hs.wants_write()) {
      auto msg = hs.write_message();
      if (!msg) co_return msg.status();
      frame.assign(2, 0);
      put_u16(frame, 0, msg->size());
      frame.insert(frame.end(), msg->begin(), msg->end());
      error_code ec;
      co_await asio::async_write(socket_, asio::buffer(frame), with_ec(ec));
      if (ec) co_return io_status(ec, "handshake write");
      bytes_sent_ += frame.size();
    } else {
      Status st = co_await read_frame(frame);
      if (!st) co_return Status(st.code(), "handshake: " + st.message());
      if (Status rs = hs.read_message(frame); !rs) co_return rs;
    }
  }
  auto session = hs.finish();
  if (!session) co_return session.status();
  if (outbound_) {
    // XX ends with our message, and a responder that refuses it (a wrong
    // cluster secret fails only there) has not said so yet: without this,
    // a dialer with the wrong secret would report the peer connected until
    // the responder hung up. The responder's first transport message (its
    // Hello), which only a holder of the cluster secret can produce,
    // confirms the session; until then the connection is not ready.
    Status st = co_await read_frame(frame);
    if (st) st = session->decrypt(frame, first_message_.emplace());
    if (!st)
      co_return Status(st.code(), "handshake: the peer did not confirm the session (a wrong cluster "
                                  "secret?): " + st.message());
  }
  remote_ = session->remote();
  session_.emplace(std::move(*session));
  co_return Status::ok();
}

awaitable<void> Connection::read_loop() {
  auto self = shared_from_this();
  Bytes frame, plain;
  while (!closed_) {
    if (first_message_) {  // read by the handshake (a dialer's confirmation)
      plain = std::move(*first_message_);
      first_message_.reset();
    } else {
      Status st = co_await read_frame(frame);
      if (st) st = session_->decrypt(frame, plain);
      if (!st) {
        close(st);
        co_return;
      }
    }
    auto chunk = receiver_.on_chunk(plain);
    if (!chunk) {
      close(chunk.status());
      co_return;
    }
    if (!*chunk) continue;
    auto m = decode((*chunk)->message);
    if (!m) {
      close(Status(m.status().code(), "bad message from peer: " + m.status().message()));
      co_return;
    }
    if (auto* ping = std::get_if<Ping>(&*m)) {
      send(Lane::control, Pong{ping->nonce});
      continue;
    }
    if (std::holds_alternative<Pong>(*m)) continue;
    handler_.on_message(self, std::move(*m));
  }
}

awaitable<void> Connection::write_loop() {
  auto self = shared_from_this();
  Bytes out, chunk;
  while (!closed_) {
    if (sender_.empty()) {
      co_await writable_.wait();
      continue;
    }
    out.clear();
    while (out.size() < kWriteBatch && sender_.next_chunk(chunk)) {
      size_t at = out.size();
      out.resize(at + 2);
      session_->encrypt(chunk, out);
      put_u16(out, at, out.size() - at - 2);
    }
    drained_.notify();
    // Piece by piece, so that keepalive_loop() sees progress (or none).
    for (size_t at = 0; at < out.size();) {
      last_tx_progress_ = std::chrono::steady_clock::now();
      error_code ec;
      size_t n = co_await socket_.async_write_some(asio::buffer(out.data() + at, out.size() - at),
                                                   with_ec(ec));
      if (ec) {
        close(io_status(ec, "write"));
        co_return;
      }
      at += n;
    }
    last_tx_progress_.reset();
    bytes_sent_ += out.size();
  }
}

awaitable<void> Connection::keepalive_loop() {
  auto self = shared_from_this();
  uint64_t nonce = 0;
  while (!closed_) {
    keepalive_.expires_after(opts_.ping_interval);
    error_code ec;
    co_await keepalive_.async_wait(with_ec(ec));
    if (closed_) co_return;
    const auto now = std::chrono::steady_clock::now();
    auto seconds = [](auto d) {
      return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(d).count());
    };
    if (now - last_rx_ > opts_.idle_timeout) {
      close(Status(Code::unavailable,
                   "peer sent nothing for " + seconds(now - last_rx_) + " s (idle timeout)"));
      co_return;
    }
    if (last_tx_progress_ && now - *last_tx_progress_ > opts_.write_timeout) {
      close(Status(Code::unavailable, "peer read nothing for " +
                                          seconds(now - *last_tx_progress_) + " s (write timeout)"));
      co_return;
    }
    send(Lane::control, Ping{++nonce});
  }
}

bool Connection::send(Lane lane, const Message& m) {
  if (closed_ || !session_) return false;
  if (!sender_.enqueue(lane, encode(m))) {
    close(Status(Code::busy, "send queue over " + std::to_string(sender_.max_bytes()) +
                                 " bytes: peer is not keeping up"));
    return false;
  }
  writable_.notify();
  return true;
}

awaitable<bool> Connection::wait_queue_below(size_t bytes) {
  auto self = shared_from_this();
  while (!closed_ && sender_.queued_bytes() > bytes) co_await drained_.wait();
  co_return !closed_;
}

void Connection::close(const Status& why) {
  if (closed_) return;
  closed_ = true;
  error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  deadline_.cancel();
  keepalive_.cancel();
  sender_.clear();
  writable_.notify();
  drained_.notify();
  handler_.on_closed(shared_from_this(), why);
}

}  // namespace trellis::net
