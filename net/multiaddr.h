// Multiaddrs (https://github.com/multiformats/multiaddr), text form only, and
// only the shapes Trellis dials or listens on:
//
//   /ip4/A.B.C.D/tcp/PORT[/p2p/<peer ID>]
//   /dns4/HOST/tcp/PORT[/p2p/<peer ID>]
//   /dns/HOST/tcp/PORT[/p2p/<peer ID>]
//
// "/ipfs/<peer ID>" is read as an alias of "/p2p/<peer ID>" and printed as
// /p2p/. A single trailing '/' is tolerated. DNS names are kept as written;
// resolving them is the dialer's job.
//
// Everything else is refused, naming the component: IPv6, /dns6, /dnsaddr,
// UDP/QUIC, websockets and relays are known but unsupported (Code::
// unsupported), any other protocol name is unknown (invalid_argument).
// IPv6 is refused rather than half-supported: neither the listener nor the
// peer exchange handle it yet, and an address we parse must be one we can use.
//
// Parsing is canonical: an address that parses prints back to the same text
// except for /ipfs/ → /p2p/ and a dropped trailing '/'. In particular IPv4
// octets and ports have no leading zeros ("010" is octal to some resolvers),
// so text and value correspond one to one.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "crdt/status.h"
#include "net/identity.h"

namespace trellis::net {

// Longest multiaddr text parse() looks at (a 253-byte DNS name plus a
// peer ID fits comfortably); longer input fails with too_large.
inline constexpr size_t kMaxMultiaddrText = 512;
// Longest DNS name (RFC 1035) and label.
inline constexpr size_t kMaxDnsName = 253;
inline constexpr size_t kMaxDnsLabel = 63;

struct Multiaddr {
  enum class Kind : uint8_t {
    ip4,   // host is a dotted quad, canonical
    dns4,  // host is a DNS name, resolve to IPv4 only
    dns,   // host is a DNS name, any address family
  };

  Kind kind = Kind::ip4;
  std::string host;
  uint16_t port = 0;
  PeerId peer;  // empty when there is no /p2p component

  // Errors name the bad component: "port 99999 out of range in /tcp/99999",
  // "unsupported protocol /udp", "unknown protocol /foo", "bad IPv4 address
  // 1.2.3 in /ip4/1.2.3"… Never throws.
  static Result<Multiaddr> parse(std::string_view text);

  std::string to_string() const;
  bool has_peer() const { return !peer.is_empty(); }
  Multiaddr without_peer() const;
  Multiaddr with_peer(const PeerId& id) const;
  // Something a dialer can connect to: not port 0 and not 0.0.0.0 (both are
  // fine for listening, meaningless to dial).
  bool is_dialable() const;

  friend bool operator==(const Multiaddr&, const Multiaddr&) = default;
  friend auto operator<=>(const Multiaddr&, const Multiaddr&) = default;
};

const char* kind_name(Multiaddr::Kind kind);  // "ip4", "dns4", "dns"

}  // namespace trellis::net
