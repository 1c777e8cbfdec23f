#include "net/multiaddr.h"

#include <array>
#include <optional>

namespace trellis::net {

namespace {

// Components of multiaddrs Trellis recognises but does not support. Anything
// else that is not ip4/dns4/dns/tcp/p2p/ipfs is an unknown protocol.
constexpr std::array<std::string_view, 18> kUnsupported = {
    "ip6",     "ip6zone",      "dns6",        "dnsaddr",       "udp",  "quic",
    "quic-v1", "webtransport", "webrtc",      "webrtc-direct", "ws",   "wss",
    "tls",     "sni",          "p2p-circuit", "unix",          "sctp", "http",
};

// Input echoed in error messages: printable ASCII only and bounded, so a
// hostile address cannot inject control characters or megabytes into logs.
std::string shown(std::string_view s) {
  constexpr size_t kMaxShown = 64;
  std::string out;
  for (size_t i = 0; i < s.size() && i < kMaxShown; ++i) {
    const char c = s[i];
    out += (c > 0x20 && c < 0x7f) ? c : '?';
  }
  if (s.size() > kMaxShown) out += "...";
  return out;
}
std::string quoted(std::string_view s) {
  return "\"" + shown(s) + "\"";
}

// Components separated by '/', read left to right.
class Components {
 public:
  explicit Components(std::string_view rest) : rest_(rest), done_(rest.empty()) {}

  // The next component, or nullopt at the end. Empty components ("//") are
  // returned as empty views for the caller to refuse.
  std::optional<std::string_view> next() {
    if (done_) return std::nullopt;
    const size_t slash = rest_.find('/');
    std::string_view part = rest_.substr(0, slash);
    if (slash == std::string_view::npos) {
      done_ = true;
    } else {
      rest_.remove_prefix(slash + 1);
    }
    return part;
  }

 private:
  std::string_view rest_;
  bool done_;
};

Status protocol_error(std::string_view name, std::string_view where) {
  for (auto u : kUnsupported) {
    if (u == name) {
      return Status(Code::unsupported, "unsupported protocol /" + shown(name) + std::string(where) +
                                           " (Trellis uses /ip4, /dns4 or /dns, then /tcp, "
                                           "then optionally /p2p)");
    }
  }
  return invalid("unknown protocol /" + shown(name) + std::string(where));
}

bool all_digits(std::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return !s.empty();
}

// A canonical decimal number (no sign, no leading zero unless it is "0") of
// at most `max_digits` digits, or nullopt.
std::optional<uint32_t> canonical_decimal(std::string_view s, size_t max_digits) {
  if (!all_digits(s) || s.size() > max_digits) return std::nullopt;
  if (s.size() > 1 && s[0] == '0') return std::nullopt;
  uint32_t v = 0;
  for (char c : s) v = v * 10 + static_cast<uint32_t>(c - '0');
  return v;
}

Status parse_ip4(std::string_view s, std::string* out) {
  std::string_view rest = s;
  for (int i = 0; i < 4; ++i) {
    const size_t dot = rest.find('.');
    if ((i < 3) != (dot != std::string_view::npos)) {
      return invalid("bad IPv4 address " + quoted(s) + ": expected four decimal octets A.B.C.D");
    }
    std::string_view octet = rest.substr(0, dot);
    if (!all_digits(octet)) {
      return invalid("bad IPv4 address " + quoted(s) + ": octet " + quoted(octet) +
                     " is not a decimal number");
    }
    if (octet.size() > 1 && octet[0] == '0') {
      return invalid("bad IPv4 address " + quoted(s) + ": octet " + quoted(octet) +
                     " has a leading zero");
    }
    auto v = canonical_decimal(octet, 3);
    if (!v || *v > 255) {
      return invalid("bad IPv4 address " + quoted(s) + ": octet " + quoted(octet) +
                     " out of range 0-255");
    }
    if (dot != std::string_view::npos) rest.remove_prefix(dot + 1);
  }
  *out = std::string(s);
  return Status::ok();
}

bool dns_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

Status parse_dns(std::string_view s, std::string* out) {
  auto bad = [&](const std::string& why) {
    return invalid("bad DNS name " + quoted(s) + ": " + why);
  };
  if (s.size() > kMaxDnsName) {
    return bad("longer than " + std::to_string(kMaxDnsName) + " characters");
  }
  std::string_view rest = s;
  while (true) {
    const size_t dot = rest.find('.');
    std::string_view label = rest.substr(0, dot);
    if (label.empty()) return bad("empty label");
    if (label.size() > kMaxDnsLabel) {
      return bad("label longer than " + std::to_string(kMaxDnsLabel) + " characters");
    }
    for (char c : label) {
      if (!dns_char(c)) return bad("character " + quoted(std::string_view(&c, 1)) + " not allowed");
    }
    if (label.front() == '-' || label.back() == '-') {
      return bad("label " + quoted(label) + " starts or ends with '-'");
    }
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  *out = std::string(s);
  return Status::ok();
}

Status parse_port(std::string_view s, uint16_t* out) {
  if (!all_digits(s)) {
    return invalid("port " + quoted(s) + " in /tcp is not a decimal number");
  }
  if (s.size() > 1 && s[0] == '0') {
    return invalid("port " + quoted(s) + " has a leading zero");
  }
  auto v = canonical_decimal(s, 5);
  if (!v || *v > 65535) {
    return invalid("port " + shown(s) + " out of range 0-65535");
  }
  *out = static_cast<uint16_t>(*v);
  return Status::ok();
}

}  // namespace

const char* kind_name(Multiaddr::Kind kind) {
  switch (kind) {
    case Multiaddr::Kind::ip4:
      return "ip4";
    case Multiaddr::Kind::dns4:
      return "dns4";
    case Multiaddr::Kind::dns:
      return "dns";
  }
  return "?";
}

Result<Multiaddr> Multiaddr::parse(std::string_view text) {
  if (text.empty()) return invalid("multiaddr is empty");
  if (text.size() > kMaxMultiaddrText) {
    return too_large("multiaddr is " + std::to_string(text.size()) + " characters, limit " +
                     std::to_string(kMaxMultiaddrText));
  }
  if (text.front() != '/') {
    return invalid("multiaddr " + quoted(text) + " does not start with '/'");
  }
  std::string_view rest = text.substr(1);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);  // one trailing '/'
  Components parts(rest);

  // Each step reads "/name" and, where it takes one, "/value".
  auto name_of = [&](std::optional<std::string_view> c) -> Result<std::string_view> {
    if (c && c->empty()) return invalid("multiaddr " + quoted(text) + " has an empty component");
    return *c;
  };

  Multiaddr ma;
  // 1. The host.
  auto first = parts.next();
  if (!first) return invalid("multiaddr \"/\" has no components");
  auto proto = name_of(first);
  if (!proto) return proto.status();
  if (*proto == "ip4") {
    ma.kind = Kind::ip4;
  } else if (*proto == "dns4") {
    ma.kind = Kind::dns4;
  } else if (*proto == "dns") {
    ma.kind = Kind::dns;
  } else if (*proto == "p2p" || *proto == "ipfs") {
    return invalid("multiaddr " + quoted(text) +
                   " has no host: expected /ip4, /dns4 or /dns before /" + std::string(*proto));
  } else {
    return protocol_error(*proto, "");
  }
  const std::string host_proto(*proto);
  auto host = parts.next();
  if (!host || host->empty()) return invalid("/" + host_proto + " needs an address after it");
  TRELLIS_TRY(ma.kind == Kind::ip4 ? parse_ip4(*host, &ma.host) : parse_dns(*host, &ma.host));

  // 2. The TCP port.
  auto tcp = parts.next();
  if (!tcp) {
    return invalid("multiaddr " + quoted(text) + " needs /tcp/<port> after the host");
  }
  proto = name_of(tcp);
  if (!proto) return proto.status();
  if (*proto != "tcp") return protocol_error(*proto, " after /" + host_proto);
  auto port = parts.next();
  if (!port || port->empty()) return invalid("/tcp needs a port after it");
  TRELLIS_TRY(parse_port(*port, &ma.port));

  // 3. Optionally the peer.
  auto p2p = parts.next();
  if (!p2p) return ma;
  proto = name_of(p2p);
  if (!proto) return proto.status();
  if (*proto != "p2p" && *proto != "ipfs") return protocol_error(*proto, " after /tcp");
  const std::string p2p_proto(*proto);
  auto id = parts.next();
  if (!id || id->empty()) return invalid("/" + p2p_proto + " needs a peer ID after it");
  auto peer = PeerId::parse(*id);
  if (!peer) {
    return Status(peer.status().code(), "bad peer ID " + quoted(*id) + " in /" + p2p_proto + ": " +
                                            peer.status().message());
  }
  ma.peer = *peer;

  if (auto extra = parts.next()) {
    proto = name_of(extra);
    if (!proto) return proto.status();
    if (*proto == "p2p" || *proto == "ipfs") {
      return invalid("multiaddr " + quoted(text) + " has more than one /p2p component");
    }
    return protocol_error(*proto, " after /" + p2p_proto);
  }
  return ma;
}

std::string Multiaddr::to_string() const {
  std::string out = "/";
  out += kind_name(kind);
  out += '/';
  out += host;
  out += "/tcp/";
  out += std::to_string(port);
  if (has_peer()) {
    out += "/p2p/";
    out += peer.to_string();
  }
  return out;
}

Multiaddr Multiaddr::without_peer() const {
  Multiaddr m = *this;
  m.peer = PeerId();
  return m;
}

Multiaddr Multiaddr::with_peer(const PeerId& id) const {
  Multiaddr m = *this;
  m.peer = id;
  return m;
}

bool Multiaddr::is_dialable() const {
  return port != 0 && !(kind == Kind::ip4 && host == "0.0.0.0");
}

}  // namespace trellis::net
