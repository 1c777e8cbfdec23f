// The follower configuration: what trellisd follower-config prints and
// trellis-follow init reads.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "daemon/config.h"
#include "daemon/follower_config.h"
#include "tempdir.h"

using namespace trellis;
using json = nlohmann::json;

namespace {

FollowerConfig sample() {
  FollowerConfig c;
  c.cluster_name = "collab";
  c.secret = net::ClusterSecret::generate();
  c.trusted_peers = {net::Identity::generate().id(), net::Identity::generate().id()};
  c.bootstrap = {
      net::Multiaddr::parse("/ip4/10.0.0.1/tcp/9096")->with_peer(c.trusted_peers[0])};
  return c;
}

}  // namespace

TEST_CASE("follower config: round trip and strict parsing") {
  const FollowerConfig c = sample();
  auto back = FollowerConfig::parse(c.to_json());
  REQUIRE(back.is_ok());
  CHECK(back->cluster_name == "collab");
  CHECK(back->secret == c.secret);
  CHECK(back->trusted_peers == c.trusted_peers);
  CHECK(back->bootstrap == c.bootstrap);

  const json good = json::parse(c.to_json());
  struct Case {
    const char* field;
    json value;  // null: erase the field
    const char* error;
  };
  const Case cases[] = {
      {"cluster_name", nullptr, "cluster_name"},
      {"cluster_name", "", "cluster_name"},
      {"secret", "abc", "secret"},
      {"trusted_peers", json::array(), "trusted_peers"},
      {"trusted_peers", json::array({"*"}), "is not a peer ID"},
      {"bootstrap", json::array({"/ip4/10.0.0.1/tcp/9096"}), "/p2p/"},
      {"bootstrap", json::array({"/ip4/0.0.0.0/tcp/9096/p2p/" + c.trusted_peers[0].to_string()}),
       "dialable"},
      {"bootstrap", 7, "bootstrap"},
  };
  for (const auto& k : cases) {
    CAPTURE(k.field);
    json j = good;
    if (k.value.is_null())
      j.erase(k.field);
    else
      j[k.field] = k.value;
    auto r = FollowerConfig::parse(j.dump());
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().message().find(k.error) != std::string::npos);
  }
  CHECK_FALSE(FollowerConfig::parse("[1,2]").is_ok());
  CHECK_FALSE(FollowerConfig::parse(std::string(kMaxFollowerConfigBytes + 1, ' ')).is_ok());
}

TEST_CASE("follower config of a data folder") {
  testing::TempDir dir;
  auto id = net::Identity::generate();
  REQUIRE(id.save(identity_path(dir.path())).is_ok());
  DaemonConfig cfg;
  cfg.peername = "alpha";
  cfg.name = "collab";
  cfg.secret = net::ClusterSecret::generate();
  cfg.listen = {*net::Multiaddr::parse("/ip4/0.0.0.0/tcp/9096")};
  REQUIRE(cfg.save(config_path(dir.path())).is_ok());

  std::string note;
  auto fc = follower_config_of(dir.path(), {}, &note);
  REQUIRE_MESSAGE(fc.is_ok(), fc.status().to_string());
  CHECK(fc->cluster_name == "collab");
  CHECK(fc->secret == cfg.secret);
  // trusted_peers "*": this peer (no peer store yet), and a note saying so.
  CHECK(fc->trusted_peers == std::vector<net::PeerId>{id.id()});
  CHECK(note.find("\"*\"") != std::string::npos);
  REQUIRE(fc->bootstrap.size() == 1);
  CHECK(fc->bootstrap[0].to_string() == "/ip4/127.0.0.1/tcp/9096/p2p/" + id.id().to_string());
  CHECK(note.find("--address") != std::string::npos);

  // Explicit writers and an explicit address.
  const auto writer = net::Identity::generate().id();
  cfg.trusted_peers = {writer.to_string()};
  REQUIRE(cfg.save(config_path(dir.path()), true).is_ok());
  note.clear();
  fc = follower_config_of(dir.path(), {*net::Multiaddr::parse("/ip4/192.0.2.7/tcp/4001")}, &note);
  REQUIRE(fc.is_ok());
  CHECK(fc->trusted_peers == std::vector<net::PeerId>{writer});
  CHECK(fc->bootstrap[0].to_string() == "/ip4/192.0.2.7/tcp/4001/p2p/" + id.id().to_string());
  CHECK(note.empty());
  // Port 0 cannot be dialed.
  CHECK_FALSE(follower_config_of(dir.path(), {*net::Multiaddr::parse("/ip4/192.0.2.7/tcp/0")}, &note).is_ok());
}
