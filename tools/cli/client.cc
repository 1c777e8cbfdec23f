// Beast-heavy: the only file of the CLI that includes Asio and Beast.
#include "tools/cli/client.h"

#include <sodium.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <limits>
#include <utility>  // before Asio: see TOOLCHAIN.md

#include "tools/cli/cli.h"

namespace trellis::cli {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
namespace ssl = asio::ssl;

namespace {

constexpr uint32_t kMaxHeaderBytes = 64u << 10;

// Runs one asynchronous operation to completion: the timeouts of
// beast::tcp_stream only apply to asynchronous operations.
template <class Start>
beast::error_code run(asio::io_context& ioc, Start start) {
  beast::error_code result;
  start([&](beast::error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

std::string describe(const beast::error_code& ec) {
  if (ec == beast::error::timeout) return "timed out";
  return ec.message();
}

// The result of one host: a response, or why not and whether another host
// may be tried (nothing of the response was seen, and repeating is safe).
struct Outcome {
  std::optional<Response> response;
  std::string error;
  bool try_next = true;
};

class Exchange {
 public:
  Exchange(const Host& h, std::chrono::milliseconds timeout, bool check_certificate)
      : host_(h), timeout_(timeout), check_certificate_(check_certificate) {}

  Outcome send(const std::string& method, const std::string& target,
               const std::string& authorization, const LineSink& sink) {
    tcp::resolver resolver(ioc_);
    beast::error_code ec;
    auto endpoints = resolver.resolve(host_.host, host_.port, ec);
    if (ec) return {{}, "cannot resolve " + host_.host + ": " + ec.message(), true};
    stream_.expires_after(timeout_);
    ec = run(ioc_, [&](auto done) { stream_.async_connect(endpoints, done); });
    if (ec) return {{}, "cannot connect to " + host_.text + ": " + describe(ec), true};
    if (!host_.tls) return exchange(stream_, method, target, authorization, sink);

    ssl::context ctx(ssl::context::tls_client);
    ctx.set_default_verify_paths();  // honours SSL_CERT_FILE and SSL_CERT_DIR
    ctx.set_verify_mode(check_certificate_ ? ssl::verify_peer : ssl::verify_none);
    beast::ssl_stream<beast::tcp_stream> tls(std::move(stream_), ctx);
    if (!SSL_set_tlsext_host_name(tls.native_handle(), host_.host.c_str()))
      return {{}, "cannot set the TLS server name " + host_.host, true};
    if (check_certificate_) tls.set_verify_callback(ssl::host_name_verification(host_.host));
    beast::get_lowest_layer(tls).expires_after(timeout_);
    ec = run(ioc_, [&](auto done) { tls.async_handshake(ssl::stream_base::client, done); });
    if (ec) {
      std::string hint = check_certificate_ ? " (--no-check-certificate skips the check)" : "";
      return {{}, "TLS handshake with " + host_.text + " failed: " + describe(ec) + hint, true};
    }
    return exchange(tls, method, target, authorization, sink);
  }

 private:
  template <class Stream>
  Outcome exchange(Stream& stream, const std::string& method, const std::string& target,
                   const std::string& authorization, const LineSink& sink) {
    const bool repeatable = method == "GET";
    auto& lowest = beast::get_lowest_layer(stream);
    beast::error_code ec;

    http::request<http::empty_body> req{http::string_to_verb(method), host_.prefix + target, 11};
    req.set(http::field::host, host_.host + ":" + host_.port);
    req.set(http::field::user_agent, "trellis-cli/" TRELLIS_CLI_VERSION);
    if (!authorization.empty()) req.set(http::field::authorization, authorization);
    if (method != "GET") req.content_length(0);
    req.keep_alive(false);
    lowest.expires_after(timeout_);
    ec = run(ioc_, [&](auto done) { http::async_write(stream, req, done); });
    if (ec) return {{}, "cannot send to " + host_.text + ": " + describe(ec), repeatable};

    http::response_parser<http::string_body> p;
    p.header_limit(kMaxHeaderBytes);
    // Chunked bodies are capped below, per line or buffer. (Not boost::none:
    // Beast 1.74 compares a content length against it as "greater than none".)
    p.body_limit(std::numeric_limits<std::uint64_t>::max());
    bool to_sink = false;
    std::string pending, capped;
    bool too_big = false;
    auto on_chunk = [&](std::uint64_t, beast::string_view data, beast::error_code& cec) {
      std::string& into = to_sink ? pending : capped;
      into.append(data.data(), data.size());
      size_t cap = to_sink ? kMaxLineBytes : kMaxBodyBytes;
      if (into.size() > cap && (!to_sink || into.find('\n') == std::string::npos)) {
        too_big = true;
        cec = http::error::body_limit;
      }
      return data.size();
    };
    p.on_chunk_body(on_chunk);

    lowest.expires_after(timeout_);
    ec = run(ioc_, [&](auto done) { http::async_read_header(stream, buffer_, p, done); });
    if (ec) return {{}, "no answer from " + host_.text + ": " + describe(ec), repeatable};

    Response res;
    res.status = p.get().result_int();
    to_sink = sink && res.status / 100 == 2;
    if (!p.chunked()) {
      if (p.content_length() && *p.content_length() > kMaxBodyBytes)
        fail(kApiError, "the response from " + host_.text + " is larger than 64 MiB");
      p.body_limit(kMaxBodyBytes);
    }
    // Lines are handed to the sink between reads, never from inside the
    // parser, so a sink may throw.
    auto deliver = [&](bool all) {
      size_t start = 0;
      for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1)
        sink(std::string_view(pending).substr(start, nl - start));
      pending.erase(0, start);
      if (all && !pending.empty()) {
        sink(pending);
        pending.clear();
      }
    };
    while (!p.is_done()) {
      lowest.expires_after(timeout_);
      ec = run(ioc_, [&](auto done) { http::async_read_some(stream, buffer_, p, done); });
      if (ec == http::error::end_of_stream && p.is_done()) break;
      if (too_big || ec == http::error::body_limit)
        fail(kApiError, "the response from " + host_.text + " exceeds the CLI's size caps");
      if (ec)
        fail(kUnreachable,
             "the connection to " + host_.text + " broke mid-response: " + describe(ec));
      if (to_sink) deliver(false);
    }
    if (p.chunked()) {
      if (to_sink)
        deliver(true);
      else
        res.body = std::move(capped);
    } else if (to_sink) {
      pending = std::move(p.get().body());
      deliver(true);
    } else {
      res.body = std::move(p.get().body());
    }
    // Beast merges the chunked trailer's fields into the message's fields.
    // IPFS Cluster sends an empty X-Stream-Error, then one per error.
    for (auto [it, end] = p.get().equal_range("X-Stream-Error"); it != end; ++it) {
      if (it->value().empty()) continue;
      res.stream_error += (res.stream_error.empty() ? "" : "; ") + std::string(it->value());
    }
    beast::error_code ignored;
    lowest.socket().shutdown(tcp::socket::shutdown_both, ignored);
    return {std::move(res), "", false};
  }

  const Host& host_;
  std::chrono::milliseconds timeout_;
  bool check_certificate_;
  asio::io_context ioc_;
  beast::tcp_stream stream_{ioc_};
  beast::flat_buffer buffer_;
};

std::string base64(const std::string& s) {
  std::string out(sodium_base64_ENCODED_LEN(s.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(s.data()),
                    s.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

bool all_digits(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

}  // namespace

Host parse_host(const std::string& text) {
  Host h;
  h.text = text;
  auto bad = [&](const std::string& why) -> Host {
    fail(kUsage,
         "--host " + text + ": " + why + " (expected http[s]://HOST:PORT or /ip4/HOST/tcp/PORT)");
  };
  if (text.starts_with("/")) {  // multiaddr
    std::vector<std::string> parts;
    size_t i = 1;
    while (i <= text.size()) {
      size_t j = text.find('/', i);
      if (j == std::string::npos) j = text.size();
      parts.push_back(text.substr(i, j - i));
      i = j + 1;
    }
    static const char* kinds[] = {"ip4", "ip6", "dns", "dns4", "dns6"};
    bool known = false;
    for (const char* k : kinds) known = known || parts[0] == k;
    if (parts.size() < 4 || !known || parts[2] != "tcp" || !all_digits(parts[3]))
      return bad("unsupported multiaddr");
    h.host = parts[1];
    h.port = parts[3];
    return h;
  }
  std::string rest = text;
  const char* default_port = "80";
  if (rest.starts_with("https://")) {
    h.tls = true;
    default_port = "443";
    rest = rest.substr(8);
  } else if (rest.starts_with("http://")) {
    rest = rest.substr(7);
  }
  if (rest.find("://") != std::string::npos) return bad("unsupported scheme");
  size_t slash = rest.find('/');
  if (slash != std::string::npos) {
    h.prefix = rest.substr(slash);
    while (h.prefix.ends_with("/")) h.prefix.pop_back();
    rest.resize(slash);
  }
  if (rest.starts_with("[")) {  // [v6]:port
    size_t close = rest.find(']');
    if (close == std::string::npos) return bad("unclosed [");
    h.host = rest.substr(1, close - 1);
    rest = rest.substr(close + 1);
    h.port = rest.starts_with(":") ? rest.substr(1) : default_port;
  } else if (size_t colon = rest.rfind(':'); colon != std::string::npos) {
    h.host = rest.substr(0, colon);
    h.port = rest.substr(colon + 1);
  } else {
    h.host = rest;
    h.port = default_port;
  }
  if (h.host.empty() || !all_digits(h.port)) return bad("bad host or port");
  return h;
}

Client::Client(std::vector<Host> hosts, std::optional<std::string> basic_auth,
               std::chrono::milliseconds timeout, bool check_certificate)
    : hosts_(std::move(hosts)), timeout_(timeout), check_certificate_(check_certificate) {
  if (basic_auth) authorization_ = "Basic " + base64(*basic_auth);
}

Response Client::request(const std::string& method, const std::string& target,
                         const LineSink& sink) {
  std::string errors;
  for (size_t n = 0; n < hosts_.size(); ++n) {
    size_t i = (current_ + n) % hosts_.size();
    Exchange x(hosts_[i], timeout_, check_certificate_);
    Outcome o = x.send(method, target, authorization_, sink);
    if (o.response) {
      current_ = i;
      return std::move(*o.response);
    }
    errors += (errors.empty() ? "" : "; ") + o.error;
    if (!o.try_next) fail(kUnreachable, o.error);
  }
  fail(kUnreachable, hosts_.size() == 1 ? errors : "no host answered: " + errors);
}

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

Query& Query::add(const std::string& key, const std::string& value) {
  q_ += q_.empty() ? '?' : '&';
  q_ += url_encode(key) + "=" + url_encode(value);
  return *this;
}

}  // namespace trellis::cli
