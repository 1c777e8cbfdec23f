// The HTTP server on a real loopback socket: keep-alive, streams with
// trailers, 204, and the limits (431, 413, slow headers, connection cap).
#include <doctest/doctest.h>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <thread>

#include "daemon/http_server.h"

namespace {

using namespace trellis;
namespace asio = net::asio;
namespace beast = boost::beast;
namespace bh = beast::http;
using net::tcp;

net::awaitable<void> handle(http::Request& req, http::Responder& r) {
  if (req.path == "/hello") {
    const std::string* who = req.param("who");
    // Named: g++ 12 mishandles temporaries in co_await expressions.
    std::string body = "{\"hello\":\"" + (who ? *who : std::string("?")) + "\"}";
    co_await r.json(200, std::move(body));
  } else if (req.path == "/stream") {
    int n = std::stoi(*req.param("n"));
    for (int i = 0; i < n; ++i) {
      std::string line = "{\"i\":" + std::to_string(i) + "}";
      if (!co_await r.item(std::move(line))) co_return;
    }
    const std::string* err = req.param("error");
    std::string error = err ? *err : "";
    co_await r.end(std::move(error), 500);
  } else if (req.path == "/echo") {
    std::string type = "text/plain";
    co_await r.reply(200, req.body, std::move(type), http::Headers());
  } else {
    co_await r.error(404, "no route " + req.path);
  }
}

// A server on its own io thread for the length of a test.
struct Fixture {
  asio::io_context io;
  std::unique_ptr<http::Server> server;
  std::thread thread;

  explicit Fixture(http::ServerOptions o = {}) {
    server = std::make_unique<http::Server>(io, std::move(o), handle);
    REQUIRE(server->start());
    thread = std::thread([this] { io.run(); });
  }
  ~Fixture() {
    asio::post(io, [this] { server->stop(); });
    thread.join();
  }
  tcp::socket connect() {
    tcp::socket s(client_io);
    s.connect({asio::ip::make_address("127.0.0.1"), server->port()});
    return s;
  }
  asio::io_context client_io;
};

bh::response<bh::string_body> get(tcp::socket& s, const std::string& target, bool keep_alive = true) {
  bh::request<bh::string_body> req{bh::verb::get, target, 11};
  req.set(bh::field::host, "127.0.0.1");
  req.keep_alive(keep_alive);
  bh::write(s, req);
  beast::flat_buffer buf;
  bh::response<bh::string_body> res;
  bh::read(s, buf, res);
  return res;
}

// Reads until the server closes; returns what arrived.
std::string read_all(tcp::socket& s) {
  std::string out;
  char b[4096];
  net::error_code ec;
  for (;;) {
    size_t n = s.read_some(asio::buffer(b), ec);
    if (ec) break;
    out.append(b, n);
  }
  return out;
}

}  // namespace

TEST_CASE("http server: keep-alive requests, decoded query, 404 as JSON") {
  Fixture f;
  auto s = f.connect();
  auto a = get(s, "/hello?who=a%20b");
  CHECK(a.result_int() == 200);
  CHECK(a.body() == "{\"hello\":\"a b\"}");
  auto b = get(s, "/nope");  // same connection
  CHECK(b.result_int() == 404);
  CHECK(b.body().find("no route /nope") != std::string::npos);
  auto c = get(s, "/hello?x=%zz");
  CHECK(c.result_int() == 400);
}

TEST_CASE("http server: streams are chunked NDJSON with X-Chunked-Output; empty is 204") {
  Fixture f;
  auto s = f.connect();
  auto res = get(s, "/stream?n=3");
  CHECK(res.result_int() == 200);
  CHECK(res["X-Chunked-Output"] == "1");
  CHECK(res.chunked());
  CHECK(res.body() == "{\"i\":0}\n{\"i\":1}\n{\"i\":2}\n");
  CHECK(res["X-Stream-Error"] == "");

  auto empty = get(s, "/stream?n=0");
  CHECK(empty.result_int() == 204);
  CHECK(empty.body().empty());

  // An error before any item is a plain JSON error; after items, a trailer.
  auto early = get(s, "/stream?n=0&error=no+state");
  CHECK(early.result_int() == 500);
  CHECK(early.body().find("no state") != std::string::npos);
  auto late = get(s, "/stream?n=2&error=lost+ipfs");
  CHECK(late.result_int() == 200);
  CHECK(late.body() == "{\"i\":0}\n{\"i\":1}\n");
  CHECK(late["X-Stream-Error"] == "lost ipfs");

  // Long streams go out in many chunks and arrive whole.
  auto big = get(s, "/stream?n=200000");
  CHECK(std::count(big.body().begin(), big.body().end(), '\n') == 200000);
}

TEST_CASE("http server: oversized headers get 431, oversized bodies 413") {
  http::ServerOptions o;
  o.max_header_bytes = 1024;
  o.max_body_bytes = 4096;
  Fixture f(o);
  {
    auto s = f.connect();
    std::string req = "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4000, 'a') + "\r\n\r\n";
    asio::write(s, asio::buffer(req));
    CHECK(read_all(s).starts_with("HTTP/1.1 431"));
  }
  {
    auto s = f.connect();
    std::string req = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n";
    asio::write(s, asio::buffer(req));
    CHECK(read_all(s).starts_with("HTTP/1.1 413"));
  }
  {
    auto s = f.connect();  // within the limit: echoed
    bh::request<bh::string_body> req{bh::verb::post, "/echo", 11};
    req.body() = std::string(4000, 'z');
    req.prepare_payload();
    bh::write(s, req);
    beast::flat_buffer buf;
    bh::response<bh::string_body> res;
    bh::read(s, buf, res);
    CHECK(res.body().size() == 4000);
  }
}

TEST_CASE("http server: a client trickling its headers is cut off at read_header_timeout") {
  http::ServerOptions o;
  o.read_header_timeout = std::chrono::milliseconds(300);
  Fixture f(o);
  auto s = f.connect();
  auto start = std::chrono::steady_clock::now();
  asio::write(s, asio::buffer(std::string("GET /hello HTTP/1.1\r\n")));
  for (int i = 0; i < 20; ++i) {  // one header byte every 100 ms
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    net::error_code ec;
    asio::write(s, asio::buffer(std::string("X")), ec);
    if (ec) break;
  }
  read_all(s);
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(took < std::chrono::milliseconds(2100));
  CHECK(f.server->counters().header_timeouts == 1);
}

TEST_CASE("http server: past max_connections new connections get 503 and the rest still work") {
  http::ServerOptions o;
  o.max_connections = 8;
  Fixture f(o);
  std::vector<tcp::socket> held;
  for (int i = 0; i < 8; ++i) {
    held.push_back(f.connect());
    CHECK(get(held.back(), "/hello").result_int() == 200);  // surely accepted
  }
  for (int i = 0; i < 50; ++i) {
    auto s = f.connect();
    CHECK(read_all(s).starts_with("HTTP/1.1 503"));
  }
  CHECK(f.server->counters().rejected_connections == 50);
  CHECK(get(held[3], "/hello").result_int() == 200);
  held.clear();
  // Closed connections free their slots.
  for (int tries = 0; tries < 100 && f.server->active_connections() > 0; ++tries)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  auto s = f.connect();
  CHECK(get(s, "/hello").result_int() == 200);
}
