#include "daemon/follower_config.h"

#include <nlohmann/json.hpp>

namespace trellis {

using json = nlohmann::json;

namespace {

constexpr size_t kMaxTrusted = 4096;
constexpr size_t kMaxBootstrap = 64;

// The array field `name` of `j`, 1 to `max` strings.
Result<std::vector<std::string>> string_list(const json& j, const char* name, size_t max) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_array() || it->empty() || it->size() > max)
    return invalid(std::string(name) + " must be a list of 1 to " + std::to_string(max) + " strings");
  std::vector<std::string> out;
  for (const auto& e : *it) {
    if (!e.is_string()) return invalid(std::string(name) + " must hold strings");
    out.push_back(e.get<std::string>());
  }
  return out;
}

}  // namespace

std::string FollowerConfig::to_json() const {
  json trusted = json::array(), boot = json::array();
  for (const auto& p : trusted_peers) trusted.push_back(p.to_string());
  for (const auto& a : bootstrap) boot.push_back(a.to_string());
  json j{{"cluster_name", cluster_name},
         {"secret", secret.to_hex()},
         {"trusted_peers", trusted},
         {"bootstrap", boot}};
  return j.dump(2) + "\n";
}

Result<FollowerConfig> FollowerConfig::parse(std::string_view text) {
  if (text.size() > kMaxFollowerConfigBytes) return invalid("follower configuration is over 1 MiB");
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return invalid("follower configuration is not a JSON object");
  FollowerConfig c;
  auto name = j.find("cluster_name");
  if (name == j.end() || !name->is_string() || name->get_ref<const std::string&>().empty() ||
      name->get_ref<const std::string&>().size() > 255)
    return invalid("cluster_name must be a string of 1 to 255 bytes");
  c.cluster_name = name->get<std::string>();
  auto secret = j.find("secret");
  if (secret == j.end() || !secret->is_string()) return invalid("secret must be a hex string");
  auto s = net::ClusterSecret::parse_hex(secret->get<std::string>());
  if (!s) return invalid("secret: " + s.status().message());
  c.secret = *s;
  auto trusted = string_list(j, "trusted_peers", kMaxTrusted);
  if (!trusted) return trusted.status();
  for (const auto& t : *trusted) {
    auto id = net::PeerId::parse(t);
    if (!id) return invalid("trusted_peers: \"" + t + "\" is not a peer ID (12D3KooW…)");
    c.trusted_peers.push_back(*id);
  }
  auto boot = string_list(j, "bootstrap", kMaxBootstrap);
  if (!boot) return boot.status();
  for (const auto& b : *boot) {
    auto a = net::Multiaddr::parse(b);
    if (!a) return invalid("bootstrap: " + a.status().message());
    if (!a->has_peer() || !a->is_dialable())
      return invalid("bootstrap: " + b + " needs a dialable address ending in /p2p/<peer ID>");
    c.bootstrap.push_back(*a);
  }
  return c;
}

}  // namespace trellis
