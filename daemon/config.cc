#include "daemon/config.h"

#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "crdt/files.h"
namespace trellis {

using json = nlohmann::json;

std::string identity_path(const std::string& dir) { return dir + "/identity.json"; }
std::string config_path(const std::string& dir) { return dir + "/config.json"; }
std::string state_path(const std::string& dir) { return dir + "/state"; }
std::string peerstore_path(const std::string& dir) { return dir + "/peerstore.json"; }
std::string control_path(const std::string& dir) { return dir + "/control.sock"; }

namespace {

Result<std::vector<net::Multiaddr>> addrs_of(const json& j, const char* field, bool need_peer) {
  if (!j.is_array()) return invalid(std::string(field) + " must be a list of multiaddrs");
  std::vector<net::Multiaddr> out;
  for (const auto& e : j) {
    if (!e.is_string()) return invalid(std::string(field) + " must hold strings");
    auto a = net::Multiaddr::parse(e.get<std::string>());
    if (!a) return invalid(std::string(field) + ": " + a.status().message());
    if (need_peer && !a->has_peer())
      return invalid(std::string(field) + ": " + a->to_string() + " needs /p2p/<peer ID>");
    out.push_back(*a);
  }
  return out;
}

}  // namespace

Result<DaemonConfig> DaemonConfig::load(const std::string& path) {
  auto text = read_file(path, 1 << 20);
  if (!text && text.status().code() == Code::not_found)
    return Status(Code::not_found, path + " does not exist (run `trellisd init` first)");
  if (!text) return text.status();
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return corrupt(path + " is not a JSON object");
  DaemonConfig c;
  static const char* kKnown[] = {"listen", "bootstrap", "secret", "rebroadcast_ms",
                                 "max_connections", "sync_writes"};
  for (const auto& [k, v] : j.items()) {
    if (std::find(std::begin(kKnown), std::end(kKnown), k) == std::end(kKnown))
      return invalid(path + ": unknown field \"" + k + "\"");
  }
  auto field = [&](const char* name) -> const json* {
    auto it = j.find(name);
    return it == j.end() ? nullptr : &*it;
  };
  if (auto* f = field("listen")) {
    auto a = addrs_of(*f, "listen", false);
    if (!a) return a.status();
    c.listen = std::move(*a);
  }
  if (auto* f = field("bootstrap")) {
    auto a = addrs_of(*f, "bootstrap", true);
    if (!a) return a.status();
    c.bootstrap = std::move(*a);
  }
  auto* secret = field("secret");
  if (!secret || !secret->is_string()) return invalid(path + ": \"secret\" is missing");
  auto s = net::ClusterSecret::parse_hex(secret->get<std::string>());
  if (!s) return invalid(path + ": secret: " + s.status().message());
  c.secret = *s;
  for (auto [name, out] : {std::pair{"rebroadcast_ms", &c.rebroadcast_ms},
                           std::pair{"max_connections", &c.max_connections}}) {
    if (auto* f = field(name)) {
      if (!f->is_number_unsigned() || f->get<uint64_t>() == 0)
        return invalid(path + ": " + name + " must be a positive integer");
      *out = f->get<uint64_t>();
    }
  }
  if (auto* f = field("sync_writes")) {
    if (!f->is_boolean()) return invalid(path + ": sync_writes must be true or false");
    c.sync_writes = f->get<bool>();
  }
  return c;
}

Status DaemonConfig::save(const std::string& path, bool overwrite) const {
  if (!overwrite && access(path.c_str(), F_OK) == 0)
    return invalid(path + " exists; refusing to overwrite it");
  json j;
  j["listen"] = json::array();
  for (const auto& a : listen) j["listen"].push_back(a.to_string());
  j["bootstrap"] = json::array();
  for (const auto& a : bootstrap) j["bootstrap"].push_back(a.to_string());
  j["secret"] = secret.to_hex();
  j["rebroadcast_ms"] = rebroadcast_ms;
  j["max_connections"] = max_connections;
  j["sync_writes"] = sync_writes;
  return write_file_atomic(path, j.dump(2) + "\n", 0600);  // it holds the secret
}

}  // namespace trellis
