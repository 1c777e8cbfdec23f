#include "net/asio.h"  // first: Boost 1.74 needs <utility> before Asio

#include "tools/bench/http_load.h"

#include "tools/bench/body_lines.h"
#include "tools/bench/common.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>

namespace trellis::bench {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = net::asio;
using Clock = std::chrono::steady_clock;

constexpr auto kRequestLimit = std::chrono::seconds(60);

net::tcp::endpoint loopback(uint16_t port) {
  return net::tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), port);
}

// Opens the stream to 127.0.0.1:port with Nagle off.
net::awaitable<net::error_code> open_stream(beast::tcp_stream& stream, uint16_t port) {
  net::error_code ec;
  net::tcp::endpoint ep = loopback(port);
  stream.expires_after(kRequestLimit);
  co_await stream.async_connect(ep, net::with_ec(ec));
  if (!ec) stream.socket().set_option(net::tcp::no_delay(true), ec);
  co_return ec;
}

// One request and its answer on an open stream.
net::awaitable<net::error_code> exchange(beast::tcp_stream& stream, beast::flat_buffer& buf,
                                         http::request<http::string_body>& req,
                                         http::response<http::string_body>& res) {
  net::error_code ec;
  stream.expires_after(kRequestLimit);
  co_await http::async_write(stream, req, net::with_ec(ec));
  if (ec) co_return ec;
  co_await http::async_read(stream, buf, res, net::with_ec(ec));
  co_return ec;
}

struct Load {
  const LoadPlan* plan = nullptr;
  size_t next = 0;
  size_t workers_done = 0;
  LoadResult out;
  std::optional<Clock::time_point> first;
  Clock::time_point last{};
  std::vector<float> latency_ms;

  void fail(const std::string& what) {
    if (out.failed++ == 0) out.first_error = what;
  }
};

net::awaitable<void> load_worker(Load* l) {
  const LoadPlan& p = *l->plan;
  auto executor = co_await asio::this_coro::executor;
  beast::tcp_stream stream(executor);
  beast::flat_buffer buf;
  bool open = false;
  std::string host = fmt::format("127.0.0.1:{}", p.port);
  while (l->next < p.targets.size()) {
    size_t i = l->next++;
    if (!open) {
      net::error_code cec = co_await open_stream(stream, p.port);
      if (cec) {
        l->fail("connect: " + cec.message());
        stream.close();
        continue;
      }
      open = true;
      buf.clear();
      l->out.connections++;
    }
    http::request<http::string_body> req(http::verb::post, p.targets[i], 11);
    req.set(http::field::host, host);
    if (!p.content_type.empty()) req.set(http::field::content_type, p.content_type);
    if (!p.bodies.empty()) req.body() = p.bodies[i];
    req.keep_alive(true);
    req.prepare_payload();
    http::response<http::string_body> res;
    auto t0 = Clock::now();
    if (!l->first) l->first = t0;
    net::error_code ec = co_await exchange(stream, buf, req, res);
    auto t1 = Clock::now();
    if (ec) {
      l->fail(fmt::format("POST {}: {}", p.targets[i], ec.message()));
      stream.close();
      open = false;
      continue;
    }
    if (!res.keep_alive()) {
      stream.close();
      open = false;
    }
    if (res.result_int() != 200 || res.body().find(p.expect) == std::string::npos) {
      l->fail(fmt::format("POST {}: HTTP {}: {}", p.targets[i], res.result_int(),
                          res.body().substr(0, 300)));
      continue;
    }
    l->out.ok++;
    l->last = t1;
    l->latency_ms.push_back(std::chrono::duration<float, std::milli>(t1 - t0).count());
  }
  if (open) {
    net::error_code ec;
    stream.socket().shutdown(net::tcp::socket::shutdown_both, ec);
    stream.close();
  }
  l->workers_done++;
}

double percentile(std::vector<float>& v, double q) {
  if (v.empty()) return 0;
  auto k = static_cast<size_t>(q * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

net::awaitable<void> one_call(uint16_t port, http::request<http::string_body>* req,
                              Result<HttpReply>* out) {
  auto executor = co_await asio::this_coro::executor;
  beast::tcp_stream stream(executor);
  net::error_code ec = co_await open_stream(stream, port);
  if (ec) {
    *out = Status(Code::unavailable, fmt::format("127.0.0.1:{}: {}", port, ec.message()));
    co_return;
  }
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  ec = co_await exchange(stream, buf, *req, res);
  if (ec) {
    *out = Status(Code::unavailable, fmt::format("127.0.0.1:{}{}: {}", port,
                                                 std::string(req->target()), ec.message()));
    co_return;
  }
  *out = HttpReply{static_cast<int>(res.result_int()), std::move(res.body())};
  stream.socket().shutdown(net::tcp::socket::shutdown_both, ec);
}

}  // namespace

Result<LoadResult> run_load(const LoadPlan& plan) {
  if (!plan.bodies.empty() && plan.bodies.size() != plan.targets.size())
    return Status(Code::invalid_argument, "one body per target");
  Load l;
  l.plan = &plan;
  l.latency_ms.reserve(plan.targets.size());
  asio::io_context io;
  size_t workers = std::max<size_t>(1, plan.concurrency);
  for (size_t w = 0; w < workers; ++w) asio::co_spawn(io, load_worker(&l), asio::detached);
  double cpu0 = process_cpu_seconds();
  io.run_for(plan.limit);
  l.out.cpu_seconds = process_cpu_seconds() - cpu0;
  if (l.workers_done < workers)
    return Status(Code::unavailable,
                  fmt::format("the load did not finish in {} s ({} of {} answered)",
                              plan.limit.count(), l.out.ok + l.out.failed, plan.targets.size()));
  if (l.first && l.out.ok > 0) {
    l.out.first_sent = *l.first;
    l.out.last_ok = l.last;
    l.out.seconds = std::chrono::duration<double>(l.last - *l.first).count();
  }
  l.out.p50_ms = percentile(l.latency_ms, 0.50);
  l.out.p99_ms = percentile(l.latency_ms, 0.99);
  return l.out;
}

Result<HttpReply> http_call(uint16_t port, const std::string& method, const std::string& target,
                            const std::string& body, std::chrono::milliseconds limit) {
  http::request<http::string_body> req(http::string_to_verb(method), target, 11);
  req.set(http::field::host, fmt::format("127.0.0.1:{}", port));
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.keep_alive(false);
  req.prepare_payload();
  Result<HttpReply> out = Status(Code::unavailable, fmt::format("127.0.0.1:{}{}: no answer in {} ms",
                                                                port, target, limit.count()));
  asio::io_context io;
  asio::co_spawn(io, one_call(port, &req, &out), asio::detached);
  io.run_for(limit);
  return out;
}

Result<StreamedReply> http_get_lines(uint16_t port, const std::string& target) {
  StreamedReply out;
  double cpu0 = process_cpu_seconds();
  auto t0 = Clock::now();
  asio::io_context io;
  net::tcp::socket sock(io);
  net::error_code ec;
  sock.connect(loopback(port), ec);
  if (ec) return Status(Code::unavailable, fmt::format("127.0.0.1:{}: {}", port, ec.message()));
  std::string req = fmt::format("GET {} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
                                target, port);
  asio::write(sock, asio::buffer(req), ec);
  BodyLines reply;
  std::vector<char> chunk(size_t{1} << 20);
  while (!ec && !reply.done()) {
    size_t got = sock.read_some(asio::buffer(chunk), ec);
    if (!reply.feed(chunk.data(), got))
      return Status(Code::corrupt, fmt::format("GET {}: {}", target, reply.error()));
  }
  if (ec == asio::error::eof && reply.closed()) ec = {};
  if (ec) return Status(Code::unavailable, fmt::format("GET {}: {}", target, ec.message()));
  out.status = reply.status();
  out.lines = reply.lines();
  out.bytes = reply.bytes();
  out.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  out.cpu_seconds = process_cpu_seconds() - cpu0;
  return out;
}

}  // namespace trellis::bench
