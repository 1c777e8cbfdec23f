#include "daemon/control.h"

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <unistd.h>

namespace trellis {

namespace asio = net::asio;
using local = asio::local::stream_protocol;

constexpr size_t kMaxLine = size_t{1} << 20;

struct ControlServer::Impl {
  Impl(asio::io_context& io, std::string p, Handler h)
      : acceptor(io), path(std::move(p)), handler(std::move(h)) {}
  local::acceptor acceptor;
  std::string path;
  Handler handler;
  bool stopped = false;

  net::awaitable<void> session(local::socket sock) {
    asio::streambuf buf(kMaxLine);
    while (!stopped) {
      net::error_code ec;
      size_t n = co_await asio::async_read_until(sock, buf, '\n', net::with_ec(ec));
      if (ec) co_return;
      std::string line(asio::buffers_begin(buf.data()), asio::buffers_begin(buf.data()) + n - 1);
      buf.consume(n);
      std::string reply = (co_await handler(std::move(line))) + "\n";
      co_await asio::async_write(sock, asio::buffer(reply), net::with_ec(ec));
      if (ec) co_return;
    }
  }

  net::awaitable<void> accept_loop() {
    while (!stopped) {
      net::error_code ec;
      local::socket sock = co_await acceptor.async_accept(net::with_ec(ec));
      if (ec) co_return;
      asio::co_spawn(acceptor.get_executor(), session(std::move(sock)), asio::detached);
    }
  }
};

ControlServer::ControlServer(asio::io_context& io, std::string path, Handler handler)
    : impl_(std::make_unique<Impl>(io, std::move(path), std::move(handler))) {}

ControlServer::~ControlServer() = default;

Status ControlServer::start() {
  ::unlink(impl_->path.c_str());
  net::error_code ec;
  local::endpoint ep(impl_->path);
  if (impl_->acceptor.open(ep.protocol(), ec) || impl_->acceptor.bind(ep, ec) ||
      impl_->acceptor.listen(16, ec))
    return Status(Code::io_error, "cannot listen on " + impl_->path + ": " + ec.message());
  asio::co_spawn(impl_->acceptor.get_executor(), impl_->accept_loop(), asio::detached);
  return Status::ok();
}

void ControlServer::stop() {
  impl_->stopped = true;
  net::error_code ec;
  impl_->acceptor.close(ec);
  ::unlink(impl_->path.c_str());
}

Result<std::string> control_request(const std::string& path, const std::string& line) {
  asio::io_context io;
  local::socket sock(io);
  net::error_code ec;
  sock.connect(local::endpoint(path), ec);
  if (ec)
    return Status(Code::unavailable,
                  "cannot reach the daemon at " + path + " (" + ec.message() + "); is it running?");
  std::string out = line + "\n";
  asio::write(sock, asio::buffer(out), ec);
  asio::streambuf buf(kMaxLine);
  size_t n = ec ? 0 : asio::read_until(sock, buf, '\n', ec);
  if (ec) return Status(Code::unavailable, "control socket: " + ec.message());
  return std::string(asio::buffers_begin(buf.data()), asio::buffers_begin(buf.data()) + n - 1);
}

}  // namespace trellis
