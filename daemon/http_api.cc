#include "daemon/http_api.h"

#include "daemon/service.h"

namespace trellis {

Result<http::ServerOptions> server_options(const HttpApiConfig& c, const std::string& name) {
  auto m = net::Multiaddr::parse(c.listen);
  if (!m || m->kind != net::Multiaddr::Kind::ip4 || !m->is_dialable())
    return invalid(name + ".listen: " + c.listen + " is not an /ip4/A.B.C.D/tcp/PORT address");
  http::ServerOptions o;
  o.host = m->host;
  o.port = m->port;
  o.cert_file = c.ssl_cert_file;
  o.key_file = c.ssl_key_file;
  o.max_connections = c.max_connections;
  o.max_header_bytes = c.max_header_bytes;
  o.max_body_bytes = c.max_body_bytes;
  o.read_header_timeout = std::chrono::milliseconds(c.read_header_timeout_ms);
  o.read_timeout = std::chrono::milliseconds(c.read_timeout_ms);
  o.write_timeout = std::chrono::milliseconds(c.write_timeout_ms);
  o.idle_timeout = std::chrono::milliseconds(c.idle_timeout_ms);
  o.name = name;
  if (c.basic_auth_credentials.empty() && !o.host.starts_with("127."))
    return invalid(name + ": listening on " + o.host +
                   " without basic_auth_credentials would let anyone on the network pin and "
                   "unpin; set credentials or listen on 127.0.0.1");
  return o;
}

HttpApi::HttpApi(Service& service, const HttpApiConfig& config, std::string name)
    : service_(service), config_(config), name_(std::move(name)) {}

HttpApi::~HttpApi() = default;

Status HttpApi::start() {
  auto o = server_options(config_, name_);
  if (!o) return o.status();
  o->log = service_.logger().component(name_);
  server_ = std::make_unique<http::Server>(
      service_.node().io(), std::move(*o),
      [this](http::Request& req, http::Responder& r) { return serve(req, r); });
  return server_->start();
}

namespace {

// "GET /pins/QmXo…" → "GET /pins/{id}": long segments (CIDs, peer IDs)
// become {id}, so labels stay few.
std::string route_of(const http::Request& req) {
  std::string out = req.method + " ";
  size_t depth = 0, i = 1;
  const std::string& p = req.path;
  while (i <= p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    std::string seg = p.substr(i, j - i);
    if (!seg.empty()) {
      if (++depth > 4) return req.method + " other";
      out += "/" + (seg.size() > 20 ? std::string("{id}") : seg);
    }
    i = j + 1;
  }
  return depth == 0 ? out + "/" : out;
}

}  // namespace

net::awaitable<void> HttpApi::serve(http::Request& req, http::Responder& r) {
  co_await handle(req, r);
  std::string route = route_of(req);
  if (!routes_.count(route)) {
    if (routes_.size() >= kMaxRouteLabels) route = "other";
    else routes_.insert(route);
  }
  ++requests_[{route, r.sent_status()}];
}

void HttpApi::stop() {
  if (server_) server_->stop();
}

uint16_t HttpApi::port() const { return server_ ? server_->port() : 0; }

int http_status(const Status& st) {
  switch (st.code()) {
    case Code::invalid_argument: return 400;
    case Code::not_found: return 404;
    case Code::denied: return 403;
    case Code::unavailable: return 503;
    default: return 500;
  }
}

}  // namespace trellis
