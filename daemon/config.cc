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

// An HTTP API section: {"listen": …, "basic_auth_credentials": {…}, …}.
Status http_api_of(const json& j, const std::string& name, HttpApiConfig& c) {
  if (!j.is_object()) return invalid(name + " must be an object");
  for (const auto& [k, v] : j.items()) {
    if (k == "listen" || k == "ssl_cert_file" || k == "ssl_key_file") {
      if (!v.is_string()) return invalid(name + "." + k + " must be a string");
      (k == "listen" ? c.listen : k == "ssl_cert_file" ? c.ssl_cert_file : c.ssl_key_file) =
          v.get<std::string>();
    } else if (k == "basic_auth_credentials") {
      if (!v.is_object()) return invalid(name + ".basic_auth_credentials must map users to passwords");
      c.basic_auth_credentials.clear();
      for (const auto& [user, pass] : v.items()) {
        if (!pass.is_string() || user.empty() || pass.get<std::string>().empty())
          return invalid(name + ".basic_auth_credentials." + user + " must be a non-empty password");
        c.basic_auth_credentials[user] = pass.get<std::string>();
      }
    } else {
      uint64_t* out = k == "max_connections"          ? &c.max_connections
                      : k == "max_header_bytes"       ? &c.max_header_bytes
                      : k == "max_body_bytes"         ? &c.max_body_bytes
                      : k == "read_header_timeout_ms" ? &c.read_header_timeout_ms
                      : k == "read_timeout_ms"        ? &c.read_timeout_ms
                      : k == "write_timeout_ms"       ? &c.write_timeout_ms
                      : k == "idle_timeout_ms"        ? &c.idle_timeout_ms
                                                      : nullptr;
      if (!out) return invalid(name + ": unknown field \"" + k + "\"");
      if (!v.is_number_unsigned() || v.get<uint64_t>() == 0)
        return invalid(name + "." + k + " must be a positive integer");
      *out = v.get<uint64_t>();
    }
  }
  if (!c.listen.empty() && !ipfs_endpoint(c.listen))
    return invalid(name + ".listen: " + ipfs_endpoint(c.listen).status().message());
  return Status::ok();
}

json http_api_json(const HttpApiConfig& c) {
  return json{{"listen", c.listen},
              {"basic_auth_credentials", c.basic_auth_credentials},
              {"ssl_cert_file", c.ssl_cert_file},
              {"ssl_key_file", c.ssl_key_file},
              {"max_connections", c.max_connections},
              {"max_header_bytes", c.max_header_bytes},
              {"max_body_bytes", c.max_body_bytes},
              {"read_header_timeout_ms", c.read_header_timeout_ms},
              {"read_timeout_ms", c.read_timeout_ms},
              {"write_timeout_ms", c.write_timeout_ms},
              {"idle_timeout_ms", c.idle_timeout_ms}};
}

}  // namespace

Result<std::pair<std::string, uint16_t>> ipfs_endpoint(const std::string& multiaddr) {
  auto m = net::Multiaddr::parse(multiaddr);
  if (!m) return invalid(m.status().message());
  if (m->kind != net::Multiaddr::Kind::ip4 || !m->is_dialable())
    return invalid(multiaddr + " is not a dialable /ip4/A.B.C.D/tcp/PORT address");
  return std::pair{m->host, m->port};
}

Result<DaemonConfig> DaemonConfig::load(const std::string& path) {
  auto text = read_file(path, 1 << 20);
  if (!text && text.status().code() == Code::not_found)
    return Status(Code::not_found, path + " does not exist (run `trellisd init` first)");
  if (!text) return text.status();
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return corrupt(path + " is not a JSON object");
  DaemonConfig c;
  static const char* kKnown[] = {"listen",          "bootstrap",
                                 "secret",          "rebroadcast_ms",
                                 "max_connections", "sync_writes",
                                 "ipfs_api",        "pin_timeout_ms",
                                 "pin_concurrency", "recover_interval_ms",
                                 "replication_factor_min", "replication_factor_max",
                                 "metrics_ttl_ms",  "repin_after_ms",
                                 "repin",           "tags",
                                 "allocate_by",     "peername",
                                 "restapi",         "pinsvcapi",
                                 "metrics_listen"};
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
  for (auto [name, out] : {std::pair{"pin_timeout_ms", &c.pin_timeout_ms},
                           std::pair{"pin_concurrency", &c.pin_concurrency},
                           std::pair{"metrics_ttl_ms", &c.metrics_ttl_ms},
                           std::pair{"repin_after_ms", &c.repin_after_ms}}) {
    if (auto* f = field(name)) {
      if (!f->is_number_unsigned() || f->get<uint64_t>() == 0)
        return invalid(path + ": " + name + " must be a positive integer");
      *out = f->get<uint64_t>();
    }
  }
  if (auto* f = field("repin")) {
    if (!f->is_boolean()) return invalid(path + ": repin must be true or false");
    c.repin = f->get<bool>();
  }
  if (auto* f = field("tags")) {
    if (!f->is_object()) return invalid(path + ": tags must be an object of strings, e.g. {\"group\": \"eu\"}");
    for (const auto& [k, v] : f->items()) {
      if (!v.is_string() || k.empty() || k.size() > 64 || v.get<std::string>().size() > 200)
        return invalid(path + ": tags." + k + " must be a string of at most 200 bytes");
      c.tags[k] = v.get<std::string>();
    }
  }
  if (auto* f = field("allocate_by")) {
    if (!f->is_array() || f->empty())
      return invalid(path + ": allocate_by must be a list such as [\"tag:group\", \"freespace\"]");
    c.allocate_by.clear();
    for (const auto& e : *f) {
      if (!e.is_string()) return invalid(path + ": allocate_by must hold strings");
      std::string m = e.get<std::string>();
      if (m != "freespace" && m != "pinqueue" && !(m.starts_with("tag:") && m.size() > 4))
        return invalid(path + ": allocate_by: \"" + m + "\" is not freespace, pinqueue or tag:NAME");
      c.allocate_by.push_back(m);
    }
  }
  if (auto* f = field("recover_interval_ms")) {
    if (!f->is_number_unsigned())
      return invalid(path + ": recover_interval_ms must be 0 (off) or a positive integer");
    c.recover_interval_ms = f->get<uint64_t>();
  }
  if (auto* f = field("ipfs_api")) {
    if (!f->is_string()) return invalid(path + ": ipfs_api must be a multiaddr string or \"\"");
    c.ipfs_api = f->get<std::string>();
    if (!c.ipfs_api.empty() && !ipfs_endpoint(c.ipfs_api))
      return invalid(path + ": ipfs_api: " + ipfs_endpoint(c.ipfs_api).status().message());
  }
  for (auto [name, out] : {std::pair{"replication_factor_min", &c.replication_factor_min},
                           std::pair{"replication_factor_max", &c.replication_factor_max}}) {
    if (auto* f = field(name)) {
      if (!f->is_number_integer() || f->get<int64_t>() < -1 || f->get<int64_t>() == 0 ||
          f->get<int64_t>() > 1000)
        return invalid(path + ": " + name + " must be -1 (every peer) or 1 to 1000");
      *out = f->get<int64_t>();
    }
  }
  if (auto* f = field("peername")) {
    if (!f->is_string() || f->get<std::string>().size() > 200)
      return invalid(path + ": peername must be a string of at most 200 bytes");
    c.peername = f->get<std::string>();
  }
  if (auto* f = field("restapi")) {
    if (Status st = http_api_of(*f, "restapi", c.restapi); !st)
      return invalid(path + ": " + st.message());
  }
  if (auto* f = field("metrics_listen")) {
    if (!f->is_string()) return invalid(path + ": metrics_listen must be a multiaddr string or \"\"");
    c.metrics_listen = f->get<std::string>();
    if (!c.metrics_listen.empty() && !ipfs_endpoint(c.metrics_listen))
      return invalid(path + ": metrics_listen: " + ipfs_endpoint(c.metrics_listen).status().message());
  }
  if (auto* f = field("pinsvcapi")) {
    if (Status st = http_api_of(*f, "pinsvcapi", c.pinsvcapi); !st)
      return invalid(path + ": " + st.message());
  }
  if ((c.replication_factor_min == -1) != (c.replication_factor_max == -1) ||
      c.replication_factor_min > c.replication_factor_max)
    return invalid(path + ": replication_factor_min and _max must both be -1, or min <= max");
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
  j["ipfs_api"] = ipfs_api;
  j["pin_timeout_ms"] = pin_timeout_ms;
  j["pin_concurrency"] = pin_concurrency;
  j["recover_interval_ms"] = recover_interval_ms;
  j["replication_factor_min"] = replication_factor_min;
  j["replication_factor_max"] = replication_factor_max;
  j["metrics_ttl_ms"] = metrics_ttl_ms;
  j["repin_after_ms"] = repin_after_ms;
  j["repin"] = repin;
  j["tags"] = tags;
  j["allocate_by"] = allocate_by;
  j["peername"] = peername;
  j["restapi"] = http_api_json(restapi);
  j["pinsvcapi"] = http_api_json(pinsvcapi);
  j["metrics_listen"] = metrics_listen;
  return write_file_atomic(path, j.dump(2) + "\n", 0600);  // it holds the secret
}

}  // namespace trellis
