#include "daemon/http_server.h"

#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <nlohmann/json.hpp>
#include <set>

#include "pinning/api_input.h"

namespace trellis::http {

namespace asio = net::asio;
namespace beast = boost::beast;
namespace bh = beast::http;
using net::awaitable;
using net::error_code;
using net::tcp;
using net::with_ec;

constexpr size_t kChunkBytes = 64 * 1024;

const std::string* Request::param(std::string_view name) const {
  for (const auto& [k, v] : query)
    if (k == name) return &v;
  return nullptr;
}

std::string error_json(int code, const std::string& message) {
  return nlohmann::json{{"code", code}, {"message", message}}.dump();
}

net::awaitable<void> Responder::json(int status, std::string body) {
  std::string type = "application/json";
  Headers none;
  co_await reply(status, std::move(body), std::move(type), std::move(none));
}

net::awaitable<void> Responder::error(int status, std::string message) {
  std::string body = error_json(status, message);
  co_await json(status, std::move(body));
}

net::awaitable<void> Responder::end_ok() {
  std::string none;
  co_await end(std::move(none), 500);
}

struct Server::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io_, ServerOptions o, Handler h)
      : io(io_), opts(std::move(o)), handler(std::move(h)), acceptor(io_) {}

  asio::io_context& io;
  ServerOptions opts;
  Handler handler;
  tcp::acceptor acceptor;
  std::optional<asio::ssl::context> tls;
  std::set<beast::tcp_stream*> live;  // stop() closes them
  ServerCounters counters;
  bool stopped = false;

  std::chrono::steady_clock::time_point last_warning{};
  // A warning about refused work, at most one every 10 s (a flood of
  // connections must not become a flood of log lines).
  void warn_throttled(const std::string& line) {
    auto now = std::chrono::steady_clock::now();
    if (!opts.log || now - last_warning < std::chrono::seconds(10)) return;
    last_warning = now;
    opts.log(LogLevel::warn, line);
  }

  awaitable<void> accept_loop();
  template <class Stream>
  awaitable<void> session(Stream& stream, std::string remote);
  void reject(tcp::socket& sock);
};

namespace {

template <class Stream>
class StreamResponder final : public Responder {
 public:
  StreamResponder(Stream& s, const ServerOptions& o, unsigned version, bool keep_alive)
      : s_(s), opts_(o), version_(version), keep_alive_(keep_alive) {}

  awaitable<void> reply(int status, std::string body, std::string content_type,
                        Headers headers) override {
    if (answered_) co_return;
    answered_ = true;
    sent_status_ = status;
    bh::response<bh::string_body> res{static_cast<bh::status>(status), version_};
    res.set(bh::field::server, "trellis");
    if (!body.empty()) res.set(bh::field::content_type, content_type);
    for (const auto& [k, v] : headers) res.insert(k, v);
    res.body() = std::move(body);
    res.keep_alive(keep_alive_);
    res.prepare_payload();
    error_code ec;
    expire();
    co_await bh::async_write(s_, res, with_ec(ec));
    if (ec) failed_ = true;
  }

  awaitable<bool> item(std::string line) override {
    if (failed_) co_return false;
    if (!answered_) {
      answered_ = streaming_ = true;
      sent_status_ = 200;
      bh::response<bh::empty_body> res{bh::status::ok, version_};
      res.set(bh::field::server, "trellis");
      res.set(bh::field::content_type, "application/json");
      res.set("X-Chunked-Output", "1");
      res.set(bh::field::trailer, "X-Stream-Error");
      res.chunked(true);
      res.keep_alive(keep_alive_);
      bh::response_serializer<bh::empty_body> sr{res};
      error_code ec;
      expire();
      co_await bh::async_write_header(s_, sr, with_ec(ec));
      if (ec) {
        failed_ = true;
        co_return false;
      }
    }
    if (buf_.empty() && line.size() >= kChunkBytes) {  // a page of lines: sent as it is
      line += '\n';
      co_await write_chunk(line);
      co_return !failed_;
    }
    buf_ += line;
    buf_ += '\n';
    if (buf_.size() >= kChunkBytes) co_await flush();
    co_return !failed_;
  }

  awaitable<void> end(std::string error, int error_status) override {
    if (!streaming_) {
      if (error.empty()) {
        std::string body, type;
        Headers none;
        co_await reply(204, std::move(body), std::move(type), std::move(none));
      } else {
        co_await this->error(error_status, std::move(error));
      }
      co_return;
    }
    if (ended_ || failed_) co_return;
    ended_ = true;
    co_await flush();
    if (failed_) co_return;
    bh::fields trailer;
    if (!error.empty()) trailer.set("X-Stream-Error", error);
    error_code ec;
    expire();
    co_await asio::async_write(s_, bh::make_chunk_last(trailer), with_ec(ec));
    if (ec) failed_ = true;
  }

  // After the handler: a stream it left open is ended, a request it never
  // answered gets 500. False: close the connection.
  awaitable<bool> finish() {
    if (!answered_) co_await error(500, "no response");
    if (streaming_ && !ended_) co_await end_ok();
    co_return !failed_ && keep_alive_;
  }

 private:
  void expire() { beast::get_lowest_layer(s_).expires_after(opts_.write_timeout); }

  awaitable<void> flush() {
    if (buf_.empty()) co_return;
    co_await write_chunk(buf_);
    buf_.clear();
  }

  awaitable<void> write_chunk(const std::string& data) {
    if (failed_) co_return;
    error_code ec;
    expire();
    co_await asio::async_write(s_, bh::make_chunk(asio::buffer(data)), with_ec(ec));
    if (ec) failed_ = true;
  }

  Stream& s_;
  const ServerOptions& opts_;
  unsigned version_;
  bool keep_alive_;
  bool answered_ = false, streaming_ = false, ended_ = false, failed_ = false;
  std::string buf_;
};

}  // namespace

template <class Stream>
awaitable<void> Server::Impl::session(Stream& stream, std::string remote) {
  auto& lowest = beast::get_lowest_layer(stream);
  beast::flat_buffer buffer;
  bool first = true;
  while (!stopped) {
    bh::request_parser<bh::string_body> parser;
    parser.header_limit(static_cast<uint32_t>(opts.max_header_bytes));
    parser.body_limit(opts.max_body_bytes);
    error_code ec;
    // Idle keep-alive connections may wait; once a request has begun, its
    // headers must all arrive within read_header_timeout.
    lowest.expires_after(first ? opts.read_header_timeout : opts.idle_timeout);
    co_await bh::async_read_some(stream, buffer, parser, with_ec(ec));
    if (!ec && !parser.is_header_done()) {
      lowest.expires_after(opts.read_header_timeout);
      while (!ec && !parser.is_header_done())
        co_await bh::async_read_some(stream, buffer, parser, with_ec(ec));
    }
    if (!ec && !parser.is_done()) {
      lowest.expires_after(opts.read_timeout);
      co_await bh::async_read(stream, buffer, parser, with_ec(ec));
    }
    first = false;
    if (ec == bh::error::header_limit || ec == bh::error::body_limit) {
      ++counters.too_large;
      bool header = ec == bh::error::header_limit;
      StreamResponder<Stream> r(stream, opts, 11, false);
      int code = header ? 431 : 413;
      std::string what = header ? "request headers larger than " +
                                      std::to_string(opts.max_header_bytes) + " bytes"
                                : "request body larger than " +
                                      std::to_string(opts.max_body_bytes) + " bytes";
      co_await r.error(code, std::move(what));
      co_return;
    }
    if (ec == beast::error::timeout) ++counters.header_timeouts;
    if (ec) co_return;
    ++counters.requests;
    auto& msg = parser.get();
    Request req;
    req.method = std::string(msg.method_string());
    req.authorization = std::string(msg[bh::field::authorization]);
    req.content_type = std::string(msg[bh::field::content_type]);
    req.remote = remote;
    StreamResponder<Stream> r(stream, opts, msg.version(), msg.keep_alive());
    auto target = pinning::parse_target(std::string_view(msg.target().data(), msg.target().size()));
    if (!target) {
      co_await r.error(400, "malformed percent-encoding in the request target");
    } else {
      req.path = std::move(target->path);
      req.query = std::move(target->query);
      req.body = std::move(msg.body());
      co_await handler(req, r);
    }
    if (!co_await r.finish()) co_return;
  }
}

void Server::Impl::reject(tcp::socket& sock) {
  // Best effort and never waits: the point is to spend nothing on it.
  static const std::string kBusy =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
      "Connection: close\r\nContent-Length: 60\r\n\r\n"
      "{\"code\":503,\"message\":\"too many connections; retry later\"}\n";
  error_code ec;
  sock.non_blocking(true, ec);
  sock.write_some(asio::buffer(kBusy), ec);
  sock.close(ec);
}

awaitable<void> Server::Impl::accept_loop() {
  auto self = shared_from_this();
  while (!stopped) {
    error_code ec;
    tcp::socket sock = co_await acceptor.async_accept(with_ec(ec));
    if (ec) {
      if (stopped || ec == asio::error::operation_aborted) co_return;
      // Out of file descriptors (EMFILE): the pending connection stays in
      // the backlog, so retrying at once would spin; wait a little.
      ++counters.accept_errors;
      warn_throttled("accept failed (" + ec.message() + "); " +
                     std::to_string(counters.accept_errors) + " so far, pausing 100 ms");
      asio::steady_timer pause(io, std::chrono::milliseconds(100));
      co_await pause.async_wait(with_ec(ec));
      continue;
    }
    if (live.size() >= opts.max_connections) {
      ++counters.rejected_connections;
      warn_throttled(std::to_string(opts.max_connections) + " connections open (max_connections): " +
                     std::to_string(counters.rejected_connections) + " refused with 503 so far");
      reject(sock);
      continue;
    }
    ++counters.connections;
    std::string remote = sock.remote_endpoint(ec).address().to_string(ec);
    asio::co_spawn(
        io,
        [self, s = std::move(sock), remote]() mutable -> awaitable<void> {
          if (self->tls) {
            beast::ssl_stream<beast::tcp_stream> stream(std::move(s), *self->tls);
            auto* lowest = &beast::get_lowest_layer(stream);
            self->live.insert(lowest);
            error_code hs;
            lowest->expires_after(self->opts.read_header_timeout);
            co_await stream.async_handshake(asio::ssl::stream_base::server, with_ec(hs));
            if (!hs) co_await self->session(stream, remote);
            self->live.erase(lowest);
          } else {
            beast::tcp_stream stream(std::move(s));
            self->live.insert(&stream);
            co_await self->session(stream, remote);
            self->live.erase(&stream);
          }
        },
        asio::detached);
  }
}

Server::Server(asio::io_context& io, ServerOptions opts, Handler handler)
    : impl_(std::make_shared<Impl>(io, std::move(opts), std::move(handler))) {}

Server::~Server() { stop(); }

Status Server::start() {
  auto& o = impl_->opts;
  if (!o.cert_file.empty() || !o.key_file.empty()) {
    if (o.cert_file.empty() || o.key_file.empty())
      return invalid(o.name + ": TLS needs both ssl_cert_file and ssl_key_file");
    impl_->tls.emplace(asio::ssl::context::tls_server);
    error_code ec;
    impl_->tls->use_certificate_chain_file(o.cert_file, ec);
    if (!ec) impl_->tls->use_private_key_file(o.key_file, asio::ssl::context::pem, ec);
    if (ec)
      return invalid(o.name + ": cannot load TLS certificate " + o.cert_file + " / key " +
                     o.key_file + ": " + ec.message());
  }
  error_code ec;
  auto addr = asio::ip::make_address(o.host, ec);
  if (ec) return invalid(o.name + ": bad listen address " + o.host);
  tcp::endpoint ep(addr, o.port);
  auto& a = impl_->acceptor;
  if (a.open(ep.protocol(), ec) || a.set_option(tcp::acceptor::reuse_address(true), ec) ||
      a.bind(ep, ec) || a.listen(asio::socket_base::max_listen_connections, ec))
    return Status(Code::io_error, o.name + ": cannot listen on " + o.host + ":" +
                                      std::to_string(o.port) + ": " + ec.message() +
                                      " (is another process using the port?)");
  asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
  return Status::ok();
}

void Server::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  error_code ec;
  impl_->acceptor.close(ec);
  for (auto* s : impl_->live) s->socket().close(ec);
}

uint16_t Server::port() const {
  error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

size_t Server::active_connections() const { return impl_->live.size(); }
const ServerCounters& Server::counters() const { return impl_->counters; }

}  // namespace trellis::http
