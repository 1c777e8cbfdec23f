#include "pinning/ipfs.h"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <limits>
#include <optional>

namespace trellis::pinning {

namespace beast = boost::beast;
namespace http = beast::http;
using net::awaitable;
using net::error_code;
using net::with_ec;
using json = nlohmann::json;

void CancelToken::cancel() {
  cancelled_ = true;
  if (on_cancel_) on_cancel_();
}

namespace {

using Args = std::vector<std::pair<std::string, std::string>>;

std::string url_encode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string ms_arg(std::chrono::milliseconds d) { return std::to_string(d.count()) + "ms"; }

// The daemon's error message from a JSON error body ({"Message": …}), or
// the body itself.
std::string error_message(const std::string& body) {
  auto j = json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("Message") && j["Message"].is_string())
    return j["Message"].get<std::string>();
  return body.substr(0, 300);
}

bool not_pinned(const std::string& msg) { return msg.find("not pinned") != std::string::npos; }

IpfsPin pin_type(std::string_view t) {
  if (t == "recursive") return IpfsPin::recursive;
  if (t == "direct") return IpfsPin::direct;
  if (t == "indirect" || t.starts_with("indirect")) return IpfsPin::indirect;
  return IpfsPin::none;
}

uint64_t json_u64(const json& j) {
  if (j.is_number_unsigned()) return j.get<uint64_t>();
  if (j.is_string()) {
    try {
      return std::stoull(j.get<std::string>());
    } catch (...) {
      return 0;
    }
  }
  return 0;
}

// A parsed JSON line; nullopt for a line that is not JSON.
std::optional<json> parse_line(std::string_view line) {
  auto j = json::parse(line, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

}  // namespace

// One HTTP call's settings and the callback that gets a 200 body line by
// line.
struct Request {
  std::string path;  // after /api/v0/
  Args args;
  std::chrono::milliseconds step_timeout;  // for each read and write
  std::function<Status(std::string_view line)> on_line;
  std::shared_ptr<CancelToken> cancel;
  std::string body;          // sent as one multipart file when not empty
};

// What came back: the HTTP status and, when it is not 200, the error.
struct Reply {
  unsigned status = 0;
  std::string error;  // the daemon's message for a non-200 reply
};

struct IpfsClient::Impl {
  Impl(net::asio::io_context& io_, const IpfsOptions& o) : io(io_), opts(o), slot_free(io_.get_executor()) {}

  net::asio::io_context& io;
  const IpfsOptions& opts;
  std::vector<std::unique_ptr<beast::tcp_stream>> idle;
  size_t busy = 0;
  net::Signal slot_free;

  std::string where() const { return opts.host + ":" + std::to_string(opts.port); }

  Status down(const std::string& what, const error_code& ec) const {
    return Status(Code::unavailable, "IPFS at " + where() + " " + what + ": " + ec.message() +
                                         " (is the IPFS daemon running? its API address is "
                                         "set by ipfs.host and ipfs.port)");
  }

  awaitable<Result<std::unique_ptr<beast::tcp_stream>>> dial() {
    auto stream = std::make_unique<beast::tcp_stream>(io);
    error_code ec;
    net::tcp::endpoint ep(net::asio::ip::make_address(opts.host, ec), opts.port);
    if (ec) co_return invalid("ipfs.host \"" + opts.host + "\" is not an IP address");
    stream->expires_after(opts.connect_timeout);
    co_await stream->async_connect(ep, with_ec(ec));
    if (ec) co_return down("did not accept a connection", ec);
    stream->socket().set_option(net::tcp::no_delay(true), ec);
    co_return stream;
  }

  // Sends the request and reads the reply on `stream`. `sent_any` tells a
  // failure on a reused connection (retryable) from one after the daemon
  // answered.
  awaitable<Result<Reply>> exchange(beast::tcp_stream& stream, const Request& req,
                                    bool* answered, bool* keep) {
    std::string target = "/api/v0/" + req.path;
    char sep = '?';
    for (const auto& [k, v] : req.args) {
      target += sep + url_encode(k) + "=" + url_encode(v);
      sep = '&';
    }
    http::request<http::string_body> msg(http::verb::post, target, 11);
    msg.set(http::field::host, where());
    msg.set(http::field::user_agent, "trellis");
    msg.keep_alive(true);
    if (!req.body.empty()) {
      const std::string boundary = "trellis-5b1f0c2e";
      msg.set(http::field::content_type, "multipart/form-data; boundary=" + boundary);
      msg.body() = "--" + boundary +
                   "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"data\"\r\n"
                   "Content-Type: application/octet-stream\r\n\r\n" +
                   req.body + "\r\n--" + boundary + "--\r\n";
    }
    msg.prepare_payload();
    error_code ec;
    stream.expires_after(req.step_timeout);
    co_await http::async_write(stream, msg, with_ec(ec));
    if (ec) co_return down("failed the request " + req.path, ec);

    beast::flat_buffer buf;
    http::response_parser<http::buffer_body> parser;
    // Lines are bounded below instead. (Not boost::none: Boost 1.74 compares
    // the content length with the optional, and anything > none fails.)
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    stream.expires_after(req.step_timeout);
    co_await http::async_read_header(stream, buf, parser, with_ec(ec));
    if (ec) {
      if (ec == net::asio::error::operation_aborted || ec == beast::error::timeout)
        co_return Status(Code::unavailable, "IPFS at " + where() + " did not answer " + req.path +
                                                " within " + ms_arg(req.step_timeout));
      co_return down("failed while answering " + req.path, ec);
    }
    *answered = true;
    Reply reply;
    reply.status = parser.get().result_int();
    bool ok = reply.status == 200;
    std::string pending, error_body;
    std::vector<char> chunk(64 * 1024);
    Status line_status;
    while (!parser.is_done()) {
      parser.get().body().data = chunk.data();
      parser.get().body().size = chunk.size();
      stream.expires_after(req.step_timeout);
      co_await http::async_read(stream, buf, parser, with_ec(ec));
      if (ec == http::error::need_buffer) ec = {};
      if (ec) {
        if (ec == beast::error::timeout)
          co_return Status(Code::unavailable,
                           "IPFS at " + where() + " made no progress on " + req.path + " for " +
                               ms_arg(req.step_timeout));
        co_return down("broke off its answer to " + req.path, ec);
      }
      size_t n = chunk.size() - parser.get().body().size;
      std::string_view data(chunk.data(), n);
      if (!ok) {
        if (error_body.size() + n > opts.max_response_bytes) co_return too_large("IPFS error is too large");
        error_body += data;
        continue;
      }
      pending += data;
      size_t start = 0;
      for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
        if (nl > start && line_status.is_ok())
          line_status = req.on_line(std::string_view(pending).substr(start, nl - start));
      }
      pending.erase(0, start);
      if (pending.size() > opts.max_response_bytes)
        co_return too_large("IPFS sent a line over " + std::to_string(opts.max_response_bytes) +
                            " bytes for " + req.path);
      if (!line_status.is_ok()) {
        *keep = false;  // stop reading; the connection is not reusable
        co_return line_status;
      }
    }
    if (ok && !pending.empty()) {
      Status st = req.on_line(pending);
      if (!st) co_return st;
    }
    // An error after a stream began comes as a trailer on a 200 answer.
    if (auto trailer = parser.get().find("X-Stream-Error");
        ok && trailer != parser.get().end() && !trailer->value().empty())
      co_return Status(Code::unavailable,
                       "IPFS broke off " + req.path + ": " +
                           error_message(std::string(trailer->value())));
    if (!ok) reply.error = error_message(error_body);
    *keep = parser.get().keep_alive();
    co_return reply;
  }

  awaitable<Result<Reply>> call(const Request& req) {
    while (busy >= opts.max_connections) co_await slot_free.wait();
    busy++;
    struct Release {
      Impl* self;
      ~Release() {
        self->busy--;
        self->slot_free.notify();
      }
    } release{this};
    if (req.cancel && req.cancel->cancelled()) co_return Status(Code::unavailable, "cancelled");
    // A pooled connection the daemon has closed fails before any answer;
    // then one fresh connection is tried.
    for (int attempt = 0; attempt < 2; attempt++) {
      std::unique_ptr<beast::tcp_stream> stream;
      bool reused = false;
      if (!idle.empty() && attempt == 0) {
        stream = std::move(idle.back());
        idle.pop_back();
        reused = true;
      } else {
        auto s = co_await dial();
        if (!s) co_return s.status();
        stream = std::move(*s);
      }
      if (req.cancel) req.cancel->on_cancel([s = stream.get()] { s->socket().close(); });
      bool answered = false, keep = false;
      auto r = co_await exchange(*stream, req, &answered, &keep);
      if (req.cancel) {
        req.cancel->on_cancel({});
        if (req.cancel->cancelled()) co_return Status(Code::unavailable, "cancelled");
      }
      if (r.is_ok() && keep && idle.size() < opts.max_connections) idle.push_back(std::move(stream));
      if (!r.is_ok() && reused && !answered) continue;
      co_return r;
    }
    co_return Status(Code::unavailable, "IPFS at " + where() + " closed the connection");
  }

  // A call whose whole 200 body is one JSON value.
  awaitable<Result<json>> call_json(std::string path, Args args) {
    std::string body;
    Request req{std::move(path), std::move(args), opts.call_timeout, {}, {}, {}};
    req.on_line = [&](std::string_view line) {
      body += line;
      return Status::ok();
    };
    auto r = co_await call(req);
    if (!r) co_return r.status();
    if (r->status != 200) co_return failed(req.path, *r);
    auto j = json::parse(body, nullptr, false);
    if (j.is_discarded()) co_return corrupt("IPFS answered " + req.path + " with invalid JSON");
    co_return j;
  }

  Status failed(const std::string& path, const Reply& r) const {
    Code code = r.status >= 400 && r.status < 500 ? Code::invalid_argument : Code::unavailable;
    if (r.status == 404 || r.status == 405)
      return Status(Code::unsupported, "IPFS at " + where() + " does not support " + path +
                                           " (HTTP " + std::to_string(r.status) + ")");
    return Status(code, "IPFS " + path + " failed (HTTP " + std::to_string(r.status) +
                            "): " + r.error);
  }
};

IpfsClient::IpfsClient(net::asio::io_context& io, IpfsOptions opts)
    : opts_(std::move(opts)), impl_(std::make_unique<Impl>(io, opts_)) {}

IpfsClient::~IpfsClient() = default;

std::string IpfsClient::endpoint() const { return impl_->where(); }

awaitable<Result<IpfsId>> IpfsClient::id() {
  Args none;
  auto j = co_await impl_->call_json("id", std::move(none));
  if (!j) co_return j.status();
  IpfsId out;
  if (!j->is_object() || !(*j)["ID"].is_string()) co_return corrupt("IPFS id has no ID");
  out.id = (*j)["ID"].get<std::string>();
  if ((*j)["Addresses"].is_array())
    for (const auto& a : (*j)["Addresses"])
      if (a.is_string()) out.addresses.push_back(a.get<std::string>());
  if ((*j)["AgentVersion"].is_string()) out.agent_version = (*j)["AgentVersion"].get<std::string>();
  co_return out;
}

awaitable<Status> IpfsClient::pin_add(Cid cid, Mode mode, std::function<void(uint64_t)> progress,
                                      std::shared_ptr<CancelToken> cancel) {
  Request req{"pin/add",
              {{"arg", cid.to_string()},
               {"recursive", mode == Mode::recursive ? "true" : "false"},
               {"progress", "true"},
               {"timeout", ms_arg(opts_.pin_timeout)}},
              // The daemon gives up after pin_timeout; allow it time to say so.
              opts_.pin_timeout + std::chrono::seconds(5),
              {},
              std::move(cancel), {}};
  bool pinned = false;
  req.on_line = [&](std::string_view line) {
    auto j = parse_line(line);
    if (!j || !j->is_object()) return corrupt("IPFS pin/add sent a line that is not JSON");
    if (j->contains("Progress") && progress) progress(json_u64((*j)["Progress"]));
    if (j->contains("Pins")) pinned = true;
    return Status::ok();
  };
  auto r = co_await impl_->call(req);
  if (!r) co_return r.status();
  if (r->status != 200) co_return impl_->failed("pin/add " + cid.to_string(), *r);
  if (!pinned) co_return corrupt("IPFS pin/add of " + cid.to_string() + " ended without a result");
  co_return Status::ok();
}

awaitable<Status> IpfsClient::pin_update(Cid from, Cid to, std::shared_ptr<CancelToken> cancel) {
  Request req{"pin/update",
              {{"arg", from.to_string()}, {"arg", to.to_string()}, {"unpin", "false"}},
              opts_.pin_timeout,
              [](std::string_view) { return Status::ok(); },
              std::move(cancel), {}};
  auto r = co_await impl_->call(req);
  if (!r) co_return r.status();
  if (r->status != 200) co_return impl_->failed("pin/update", *r);
  co_return Status::ok();
}

awaitable<Status> IpfsClient::pin_rm(Cid cid, std::shared_ptr<CancelToken> cancel) {
  Request req{"pin/rm", {{"arg", cid.to_string()}}, opts_.call_timeout,
              [](std::string_view) { return Status::ok(); }, std::move(cancel), {}};
  auto r = co_await impl_->call(req);
  if (!r) co_return r.status();
  if (r->status != 200 && !not_pinned(r->error))
    co_return impl_->failed("pin/rm " + cid.to_string(), *r);
  co_return Status::ok();
}

awaitable<Result<IpfsPin>> IpfsClient::pin_ls_one(Cid cid) {
  IpfsPin found = IpfsPin::none;
  Request req{"pin/ls", {{"arg", cid.to_string()}, {"type", "all"}, {"stream", "true"}},
              opts_.call_timeout, {}, {}, {}};
  req.on_line = [&](std::string_view line) {
    auto j = parse_line(line);
    if (j && j->is_object() && (*j)["Type"].is_string()) {
      IpfsPin t = pin_type((*j)["Type"].get<std::string>());
      if (t == IpfsPin::recursive || found == IpfsPin::none ||
          (t == IpfsPin::direct && found == IpfsPin::indirect))
        found = t;
    }
    return Status::ok();
  };
  auto r = co_await impl_->call(req);
  // "not pinned" comes as an error answer, or as a stream-error trailer.
  if (!r && not_pinned(r.status().message())) co_return IpfsPin::none;
  if (!r) co_return r.status();
  if (r->status != 200) {
    if (not_pinned(r->error)) co_return IpfsPin::none;
    co_return impl_->failed("pin/ls " + cid.to_string(), *r);
  }
  co_return found;
}

awaitable<Status> IpfsClient::pin_ls(std::string type,
                                     std::function<bool(const Cid&, IpfsPin)> fn) {
  bool stopped = false;
  Request req{"pin/ls", {{"type", type}, {"stream", "true"}}, opts_.list_timeout, {}, {}, {}};
  req.on_line = [&](std::string_view line) -> Status {
    auto j = parse_line(line);
    if (!j || !j->is_object() || !(*j)["Cid"].is_string() || !(*j)["Type"].is_string())
      return corrupt("IPFS pin/ls sent a line that is not a pin: " +
                     std::string(line.substr(0, 200)));
    auto cid = Cid::parse((*j)["Cid"].get<std::string>());
    if (!cid) return corrupt("IPFS pin/ls sent a bad CID: " + cid.status().message());
    if (fn(*cid, pin_type((*j)["Type"].get<std::string>()))) return Status::ok();
    stopped = true;  // ends the read; the connection is dropped
    return Status(Code::not_found, "stopped");
  };
  auto r = co_await impl_->call(req);
  if (stopped) co_return Status::ok();
  if (!r) co_return r.status();
  if (r->status != 200) co_return impl_->failed("pin/ls", *r);
  co_return Status::ok();
}

awaitable<Result<RepoStat>> IpfsClient::repo_stat() {
  // (Args built outside co_await: g++ 12 mishandles brace-initialised
  // temporaries inside a co_await expression.)
  Args args{{"size-only", "true"}};
  auto j = co_await impl_->call_json("repo/stat", std::move(args));
  if (!j) co_return j.status();
  if (!j->is_object()) co_return corrupt("IPFS repo/stat is not an object");
  RepoStat s;
  s.repo_size = json_u64((*j)["RepoSize"]);
  s.storage_max = json_u64((*j)["StorageMax"]);
  s.num_objects = json_u64((*j)["NumObjects"]);
  co_return s;
}

awaitable<Result<Cid>> IpfsClient::block_put(Bytes data) {
  std::string key;
  Request req{"block/put",
              {{"format", "raw"}, {"cid-codec", "raw"}, {"mhtype", "sha2-256"}},
              opts_.call_timeout, {}, {},
              std::string(reinterpret_cast<const char*>(data.data()), data.size())};
  req.on_line = [&](std::string_view line) {
    auto j = parse_line(line);
    if (j && j->is_object() && (*j)["Key"].is_string()) key = (*j)["Key"].get<std::string>();
    return Status::ok();
  };
  auto r = co_await impl_->call(req);
  if (!r) co_return r.status();
  if (r->status != 200) co_return impl_->failed("block/put", *r);
  auto cid = Cid::parse(key);
  if (!cid) co_return corrupt("IPFS block/put answered without a valid Key");
  co_return *cid;
}

awaitable<Status> IpfsClient::swarm_connect(std::string multiaddr) {
  Args args{{"arg", std::move(multiaddr)}};
  auto j = co_await impl_->call_json("swarm/connect", std::move(args));
  co_return j.status();
}

}  // namespace trellis::pinning
