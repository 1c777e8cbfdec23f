// Multiaddr text forms: round trips of every supported shape and one check
// per error, each naming the component at fault.
#include <doctest/doctest.h>

#include <string>

#include "net/identity.h"
#include "net/multiaddr.h"

using namespace trellis;
using namespace trellis::net;

namespace {

PeerId peer_of(uint8_t n) {
  Bytes seed(32, n);
  return Identity::from_seed(seed).id();
}

template <class T>
std::string error_of(const Result<T>& r) {
  return r ? std::string() : r.status().message();
}

bool contains(const std::string& s, std::string_view part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST_SUITE("multiaddr") {
  TEST_CASE("supported shapes print back as written") {
    const std::string id = peer_of(1).to_string();
    const std::string cases[] = {
        "/ip4/127.0.0.1/tcp/4001",
        "/ip4/0.0.0.0/tcp/0",
        "/ip4/255.255.255.255/tcp/65535",
        "/ip4/10.0.0.7/tcp/9096/p2p/" + id,
        "/dns4/node-1.example.com/tcp/9096",
        "/dns/cluster_peer.local/tcp/1/p2p/" + id,
        "/dns4/localhost/tcp/80",
    };
    for (const auto& text : cases) {
      CAPTURE(text);
      auto ma = Multiaddr::parse(text);
      REQUIRE_MESSAGE(ma, error_of(ma));
      CHECK(ma->to_string() == text);
      auto again = Multiaddr::parse(ma->to_string());
      REQUIRE(again);
      CHECK(*again == *ma);
    }
  }

  TEST_CASE("fields") {
    const PeerId id = peer_of(2);
    auto ma = Multiaddr::parse("/ip4/192.168.1.20/tcp/9096/p2p/" + id.to_string());
    REQUIRE(ma);
    CHECK(ma->kind == Multiaddr::Kind::ip4);
    CHECK(ma->host == "192.168.1.20");
    CHECK(ma->port == 9096);
    CHECK(ma->peer == id);
    CHECK(ma->has_peer());
    CHECK(ma->is_dialable());

    auto bare = ma->without_peer();
    CHECK_FALSE(bare.has_peer());
    CHECK(bare.to_string() == "/ip4/192.168.1.20/tcp/9096");
    CHECK(bare.with_peer(id) == *ma);

    auto dns = Multiaddr::parse("/dns/Example.ORG/tcp/443");
    REQUIRE(dns);
    CHECK(dns->kind == Multiaddr::Kind::dns);
    CHECK(dns->host == "Example.ORG");  // kept as written
    CHECK(std::string(kind_name(Multiaddr::Kind::dns4)) == "dns4");
  }

  TEST_CASE("/ipfs/ is an alias printed as /p2p/; one trailing slash is fine") {
    const std::string id = peer_of(3).to_string();
    auto ma = Multiaddr::parse("/ip4/1.2.3.4/tcp/5/ipfs/" + id);
    REQUIRE(ma);
    CHECK(ma->to_string() == "/ip4/1.2.3.4/tcp/5/p2p/" + id);
    auto slash = Multiaddr::parse("/ip4/1.2.3.4/tcp/5/");
    REQUIRE(slash);
    CHECK(slash->to_string() == "/ip4/1.2.3.4/tcp/5");
  }

  TEST_CASE("dialable") {
    CHECK_FALSE(Multiaddr::parse("/ip4/0.0.0.0/tcp/4001")->is_dialable());
    CHECK_FALSE(Multiaddr::parse("/ip4/127.0.0.1/tcp/0")->is_dialable());
    CHECK(Multiaddr::parse("/dns4/a/tcp/1")->is_dialable());
  }

  TEST_CASE("ordering and equality") {
    auto a = *Multiaddr::parse("/ip4/1.2.3.4/tcp/5");
    auto b = *Multiaddr::parse("/ip4/1.2.3.4/tcp/6");
    CHECK(a < b);
    CHECK(a != b);
    CHECK(a == *Multiaddr::parse("/ip4/1.2.3.4/tcp/5/"));
  }

  TEST_CASE("errors name the component") {
    const std::string id = peer_of(4).to_string();
    struct Case {
      std::string text;
      Code code;
      std::string message;
    };
    const Case cases[] = {
        {"", Code::invalid_argument, "empty"},
        {"ip4/1.2.3.4/tcp/1", Code::invalid_argument, "does not start with '/'"},
        {"/", Code::invalid_argument, "no components"},
        {"//ip4/1.2.3.4/tcp/1", Code::invalid_argument, "empty component"},
        {"/ip4/1.2.3.4//tcp/1", Code::invalid_argument, "empty component"},
        {"/ip4/1.2.3.4/tcp/1//", Code::invalid_argument, "empty component"},
        {"/ip4", Code::invalid_argument, "/ip4 needs an address"},
        {"/ip4/1.2.3", Code::invalid_argument, "expected four decimal octets"},
        {"/ip4/1.2.3.4.5", Code::invalid_argument, "expected four decimal octets"},
        {"/ip4/1.2.3.256/tcp/1", Code::invalid_argument, "octet \"256\" out of range"},
        {"/ip4/1.2.3.1000/tcp/1", Code::invalid_argument, "octet \"1000\" out of range"},
        {"/ip4/01.2.3.4/tcp/1", Code::invalid_argument, "leading zero"},
        {"/ip4/1.2..4/tcp/1", Code::invalid_argument, "octet \"\" is not a decimal"},
        {"/ip4/1.2.x.4/tcp/1", Code::invalid_argument, "octet \"x\" is not a decimal"},
        {"/ip4/1.2.3.4", Code::invalid_argument, "needs /tcp/<port>"},
        {"/ip4/1.2.3.4/tcp", Code::invalid_argument, "/tcp needs a port"},
        {"/ip4/1.2.3.4/tcp/99999", Code::invalid_argument, "port 99999 out of range"},
        {"/ip4/1.2.3.4/tcp/65536", Code::invalid_argument, "port 65536 out of range"},
        {"/ip4/1.2.3.4/tcp/12345678901234567890", Code::invalid_argument, "out of range"},
        {"/ip4/1.2.3.4/tcp/080", Code::invalid_argument, "leading zero"},
        {"/ip4/1.2.3.4/tcp/-1", Code::invalid_argument, "not a decimal number"},
        {"/ip4/1.2.3.4/tcp/http", Code::invalid_argument, "not a decimal number"},
        {"/ip4/1.2.3.4/udp/1", Code::unsupported, "unsupported protocol /udp"},
        {"/ip4/1.2.3.4/tcp/1/ws", Code::unsupported, "unsupported protocol /ws after /tcp"},
        {"/ip4/1.2.3.4/tcp/1/foo", Code::invalid_argument, "unknown protocol /foo after /tcp"},
        {"/ip6/::1/tcp/1", Code::unsupported, "unsupported protocol /ip6"},
        {"/dns6/a.b/tcp/1", Code::unsupported, "unsupported protocol /dns6"},
        {"/dnsaddr/bootstrap.libp2p.io", Code::unsupported, "unsupported protocol /dnsaddr"},
        {"/onion3/x", Code::invalid_argument, "unknown protocol /onion3"},
        {"/p2p/" + id, Code::invalid_argument, "has no host"},
        {"/ipfs/" + id, Code::invalid_argument, "has no host"},
        {"/ip4/1.2.3.4/tcp/1/p2p", Code::invalid_argument, "/p2p needs a peer ID"},
        {"/ip4/1.2.3.4/tcp/1/p2p/QmNotAPeer", Code::invalid_argument, "bad peer ID \"QmNotAPeer\""},
        {"/ip4/1.2.3.4/tcp/1/p2p/" + id + "/p2p/" + id, Code::invalid_argument,
         "more than one /p2p"},
        {"/ip4/1.2.3.4/tcp/1/p2p/" + id + "/p2p-circuit", Code::unsupported,
         "unsupported protocol /p2p-circuit after /p2p"},
        {"/dns4", Code::invalid_argument, "/dns4 needs an address"},
        {"/dns4/a..b/tcp/1", Code::invalid_argument, "empty label"},
        {"/dns4/.a/tcp/1", Code::invalid_argument, "empty label"},
        {"/dns4/a./tcp/1", Code::invalid_argument, "empty label"},
        {"/dns4/-a.b/tcp/1", Code::invalid_argument, "starts or ends with '-'"},
        {"/dns4/a b/tcp/1", Code::invalid_argument, "not allowed"},
        {"/dns/" + std::string(64, 'a') + "/tcp/1", Code::invalid_argument, "label longer than 63"},
        {"/dns/" + std::string(250, 'a') + ".b.c/tcp/1", Code::invalid_argument, "longer than 253"},
    };
    for (const auto& c : cases) {
      CAPTURE(c.text);
      auto r = Multiaddr::parse(c.text);
      REQUIRE_FALSE(r);
      CHECK(r.status().code() == c.code);
      CHECK_MESSAGE(contains(r.status().message(), c.message), r.status().message());
    }
  }

  TEST_CASE("peer ID errors keep the peer ID parser's code") {
    auto r = Multiaddr::parse("/ip4/1.2.3.4/tcp/1/p2p/12D3KooW");
    REQUIRE_FALSE(r);
    CHECK(contains(r.status().message(), "bad peer ID \"12D3KooW\" in /p2p"));
  }

  TEST_CASE("input length is bounded") {
    const std::string name = std::string(60, 'a') + "." + std::string(60, 'b') + "." +
                             std::string(60, 'c') + "." + std::string(60, 'd');
    auto ok = Multiaddr::parse("/dns/" + name + "/tcp/1/p2p/" + peer_of(5).to_string());
    CHECK_MESSAGE(ok, error_of(ok));
    auto r = Multiaddr::parse("/dns/" + std::string(kMaxMultiaddrText, 'a'));
    REQUIRE_FALSE(r);
    CHECK(r.status().code() == Code::too_large);
  }

  TEST_CASE("hostile bytes in errors are neutralised and bounded") {
    auto r = Multiaddr::parse(std::string("/\x1b[31m\n") + std::string(300, 'x'));
    REQUIRE_FALSE(r);
    const std::string msg = r.status().message();
    CHECK(msg.find('\x1b') == std::string::npos);
    CHECK(msg.find('\n') == std::string::npos);
    CHECK(msg.size() < 200);
  }
}
