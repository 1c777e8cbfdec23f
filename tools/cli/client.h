// HTTP client of the REST API with failover over several hosts.
//
// One connection per request (loopback-cheap; no state between requests
// except which host answered last). Hosts are tried in order starting from
// the last one that answered; the next one is tried when a host cannot be
// reached (resolve or connect fails, or the connection drops before any
// response byte for a request that is safe to repeat). When none answers the
// request throws Failure{kUnreachable}. The timeout bounds each step
// (connect, write, every read), so a long stream that keeps flowing is fine.
// Beast stays out of this header: only client.cc includes it.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace trellis::cli {

struct Host {
  std::string text;  // as given, for messages
  std::string host;
  std::string port;
  std::string prefix;  // path prefix, "" or "/something"
  bool tls = false;    // https://
};

// "http[s]://H:P[/prefix]", "H:P", "/ip4/H/tcp/P", "/ip6/H/tcp/P",
// "/dns[4|6]/H/tcp/P". Throws a usage error.
Host parse_host(const std::string& text);

struct Response {
  int status = 0;
  std::string body;          // whole body, unless lines went to a sink
  std::string stream_error;  // the X-Stream-Error trailer ("" = none)
};

// Receives each line of a 2xx body (without the '\n'), as it arrives.
using LineSink = std::function<void(std::string_view line)>;

// Caps: a buffered body and a single streamed line.
inline constexpr size_t kMaxBodyBytes = 64u << 20;
inline constexpr size_t kMaxLineBytes = 16u << 20;

class Client {
 public:
  // HTTPS hosts are verified against the system's CA certificates (or the
  // file in SSL_CERT_FILE) and the host name or IP, unless check_certificate
  // is false.
  Client(std::vector<Host> hosts, std::optional<std::string> basic_auth,
         std::chrono::milliseconds timeout, bool check_certificate = true);

  // Sends METHOD prefix+target. With a sink, a 2xx body is delivered line by
  // line (and Response::body stays empty); error bodies are always buffered.
  Response request(const std::string& method, const std::string& target, const LineSink& sink = {});

  const Host& current() const { return hosts_[current_]; }

 private:
  std::vector<Host> hosts_;
  std::string authorization_;  // "" or "Basic …"
  std::chrono::milliseconds timeout_;
  bool check_certificate_;
  size_t current_ = 0;
};

// Percent-encodes a path segment or query value (RFC 3986 unreserved kept).
std::string url_encode(std::string_view s);

// "?k=v&k2=v2" built up in order; empty when nothing was added.
class Query {
 public:
  Query& add(const std::string& key, const std::string& value);
  std::string str() const { return q_; }

 private:
  std::string q_;
};

}  // namespace trellis::cli
