// config.json: every field written with its default, read back unchanged,
// overridden by TRELLIS_<SECTION>_<FIELD>, and errors that name the field.
#include <doctest/doctest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "crdt/files.h"
#include "daemon/config.h"
#include "tempdir.h"

using namespace trellis;
using json = nlohmann::json;

namespace {

// Sets an environment variable for the life of the object.
class EnvVar {
 public:
  EnvVar(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ~EnvVar() { ::unsetenv(name_); }
  EnvVar(const EnvVar&) = delete;
  EnvVar& operator=(const EnvVar&) = delete;

 private:
  const char* name_;
};

DaemonConfig sample() {
  DaemonConfig c;
  c.peername = "alpha";
  c.secret = net::ClusterSecret::generate();
  c.listen.push_back(*net::Multiaddr::parse("/ip4/0.0.0.0/tcp/9096"));
  return c;
}

json file_of(const std::string& path) { return json::parse(*read_file(path, 1 << 20)); }

void write_json(const std::string& path, const json& j) {
  REQUIRE(write_file_atomic(path, j.dump(), 0600).is_ok());
}

std::string load_error(const std::string& path) {
  auto c = DaemonConfig::load(path);
  REQUIRE_FALSE(c.is_ok());
  return c.status().message();
}

bool mentions(const std::string& message, const char* what) {
  return message.find(what) != std::string::npos;
}

}  // namespace

TEST_CASE("config: every field is written in its section and read back") {
  testing::TempDir dir;
  const std::string path = dir.sub("config.json");
  REQUIRE(sample().save(path).is_ok());
  const json j = file_of(path);
  CHECK(j["cluster"].size() == 10);
  CHECK(j["cluster"]["trusted_peers"] == json::array({"*"}));
  CHECK(j["cluster"]["follower_mode"] == false);
  CHECK(j["cluster"]["name"] == "trellis");
  CHECK(j["ipfs"].size() == 4);
  CHECK(j["pinning"].size() == 7);
  CHECK(j["restapi"].size() == 11);
  CHECK(j["pinsvcapi"].size() == 11);
  CHECK(j["metrics"]["listen"] == "/ip4/127.0.0.1/tcp/8888");
  CHECK(j["log"]["level"] == "info");
  CHECK(j["restapi"]["listen"] == "/ip4/127.0.0.1/tcp/9094");
  CHECK(j["pinsvcapi"]["listen"] == "/ip4/127.0.0.1/tcp/9097");
  CHECK(j["ipfs"]["api"] == "/ip4/127.0.0.1/tcp/5001");

  auto c = DaemonConfig::load(path);
  REQUIRE(c.is_ok());
  CHECK(c->peername == "alpha");
  const std::string again = dir.sub("again.json");
  REQUIRE(c->save(again).is_ok());
  CHECK(*read_file(path, 1 << 20) == *read_file(again, 1 << 20));
  CHECK_FALSE(c->save(again).is_ok());  // refuses to overwrite
}

TEST_CASE("config: changed values survive a round trip") {
  testing::TempDir dir;
  DaemonConfig c = sample();
  c.restapi.listen = "/ip4/10.0.0.1/tcp/9094";
  c.restapi.basic_auth_credentials = {{"admin", "pw"}};
  c.pinsvcapi.idle_timeout_ms = 7;
  c.tags = {{"group", "eu"}};
  c.log_level = "debug";
  c.log_format = "json";
  c.replication_factor_min = 2;
  c.replication_factor_max = 3;
  c.trusted_peers = {net::Identity::generate().id().to_string()};
  c.follower_mode = true;
  c.name = "collab";
  REQUIRE(c.save(dir.sub("c.json")).is_ok());
  auto back = DaemonConfig::load(dir.sub("c.json"));
  REQUIRE(back.is_ok());
  CHECK(back->restapi.listen == c.restapi.listen);
  CHECK(back->restapi.basic_auth_credentials == c.restapi.basic_auth_credentials);
  CHECK(back->pinsvcapi.idle_timeout_ms == 7);
  CHECK(back->tags == c.tags);
  CHECK(back->log_level == "debug");
  CHECK(back->log_format == "json");
  CHECK(back->replication_factor_max == 3);
  CHECK(back->trusted_peers == c.trusted_peers);
  CHECK_FALSE(back->trust_everyone());
  CHECK(back->follower_mode);
  CHECK(back->name == "collab");
}

TEST_CASE("config: unknown sections, unknown fields and bad values are named") {
  testing::TempDir dir;
  const std::string path = dir.sub("config.json");
  REQUIRE(sample().save(path).is_ok());
  const json j = file_of(path);
  struct Case {
    const char* pointer;  // the field to set, or to erase when `value` is null
    json value;
    const char* error;    // part of the message
  };
  const Case cases[] = {
      {"/consensus", json::object(), "unknown section \"consensus\""},
      {"/ipfs/ipfs_api", "", "unknown field \"ipfs.ipfs_api\""},
      {"/ipfs/api", "/ip4/1.2.3/tcp/5001", "ipfs.api"},
      {"/log/level", "loud", "log.level"},
      {"/log/format", "xml", "log.format"},
      {"/restapi/listen", "/ip4/0.0.0.0/tcp/9094", "restapi.basic_auth_credentials"},
      {"/pinsvcapi/ssl_cert_file", "/etc/cert.pem", "pinsvcapi.ssl_key_file"},
      {"/pinning/replication_factor_min", 3, "replication_factor_min"},
      {"/cluster/secret", nullptr, "cluster.secret is missing"},
      {"/cluster", 5, "\"cluster\" must be an object"},
      {"/cluster/trusted_peers", json::array({"QmNotAPeer"}), "is not a peer ID"},
      {"/cluster/trusted_peers", json::array(), "cluster.trusted_peers"},
      {"/cluster/trusted_peers",
       json::array({"*", net::Identity::generate().id().to_string()}), "must be the only entry"},
      {"/cluster/follower_mode", "yes", "cluster.follower_mode"},
      {"/cluster/trusted_peers", json(std::vector<std::string>(4097, "*")), "1 to 4096 strings"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.pointer);
    json k = j;
    const json::json_pointer ptr(c.pointer);
    if (c.value.is_null())
      k[ptr.parent_pointer()].erase(ptr.back());
    else
      k[ptr] = c.value;
    write_json(path, k);
    CHECK(mentions(load_error(path), c.error));
  }
}

TEST_CASE("config: environment variables override the file") {
  testing::TempDir dir;
  const std::string path = dir.sub("config.json");
  REQUIRE(sample().save(path).is_ok());
  const auto secret = net::ClusterSecret::generate();
  EnvVar api("TRELLIS_IPFS_API", "");
  EnvVar listen("TRELLIS_RESTAPI_LISTEN", "/ip4/127.0.0.1/tcp/19094");
  EnvVar sec("TRELLIS_CLUSTER_SECRET", secret.to_hex().c_str());
  EnvVar sync("TRELLIS_CLUSTER_SYNC_WRITES", "false");
  EnvVar tags("TRELLIS_PINNING_TAGS", "group=eu, rack=r1");
  EnvVar by("TRELLIS_PINNING_ALLOCATE_BY", "freespace,tag:rack");
  EnvVar auth("TRELLIS_PINSVCAPI_BASIC_AUTH_CREDENTIALS", R"({"u": "p"})");
  EnvVar peers("TRELLIS_CLUSTER_BOOTSTRAP", "");
  EnvVar conc("TRELLIS_IPFS_PIN_CONCURRENCY", "3");
  auto c = DaemonConfig::load(path);
  REQUIRE(c.is_ok());
  CHECK(c->ipfs_api.empty());
  CHECK(c->restapi.listen == "/ip4/127.0.0.1/tcp/19094");
  CHECK(c->secret.to_hex() == secret.to_hex());
  CHECK_FALSE(c->sync_writes);
  CHECK(c->tags == std::map<std::string, std::string>{{"group", "eu"}, {"rack", "r1"}});
  CHECK(c->allocate_by == std::vector<std::string>{"freespace", "tag:rack"});
  CHECK(c->pinsvcapi.basic_auth_credentials.at("u") == "p");
  CHECK(c->bootstrap.empty());
  CHECK(c->pin_concurrency == 3);
}

TEST_CASE("config: a bad environment value names the variable") {
  testing::TempDir dir;
  const std::string path = dir.sub("config.json");
  REQUIRE(sample().save(path).is_ok());
  const std::pair<const char*, const char*> cases[] = {
      {"TRELLIS_IPFS_PIN_TIMEOUT_MS", "soon"},
      {"TRELLIS_PINNING_REPIN", "yes"},
      {"TRELLIS_PINNING_TAGS", "group"},
      {"TRELLIS_CLUSTER_BOOTSTRAP", "/ip4/1.2.3.4/tcp/9096"},
  };
  for (const auto& [name, value] : cases) {
    EnvVar v(name, value);
    CHECK(mentions(load_error(path), name));
  }
}
