#include "daemon/config_fields.h"

#include "daemon/logger.h"

namespace trellis::config {

namespace {

using json = nlohmann::json;

template <class T>
using Ref = T& (*)(DaemonConfig&);
using Check = Status (*)(const std::string&);

// A member of DaemonConfig, as a Ref.
#define MEMBER(expr) [](DaemonConfig& c) -> auto& { return c.expr; }

constexpr size_t kMaxText = 4096;
constexpr size_t kMaxEntries = 64;

Status any_text(const std::string&) { return Status::ok(); }

Status ipfs_api(const std::string& s) {
  if (s.empty()) return Status::ok();
  auto ep = ipfs_endpoint(s);
  return ep ? Status::ok() : ep.status();
}

// A listen address of an HTTP server, or "" for off.
Status http_listen(const std::string& s) {
  if (s.empty()) return Status::ok();
  auto m = net::Multiaddr::parse(s);
  if (!m) return m.status();
  if (m->kind != net::Multiaddr::Kind::ip4 || m->has_peer())
    return invalid(s + " is not an /ip4/A.B.C.D/tcp/PORT address");
  return Status::ok();
}

Status log_level(const std::string& s) { return parse_log_level(s).status(); }

Status log_format(const std::string& s) {
  if (s == "text" || s == "json") return Status::ok();
  return invalid("\"" + s + "\" is not text or json");
}

Status peername(const std::string& s) {
  if (s.empty() || s.size() > 255) return invalid("must be 1 to 255 bytes");
  return Status::ok();
}

Status trusted_peer(const std::string& s) {
  if (s == "*") return Status::ok();
  auto id = net::PeerId::parse(s);
  if (!id) return invalid("\"" + s + "\" is not a peer ID (12D3KooW…) or \"*\"");
  return Status::ok();
}

Status allocator_metric(const std::string& m) {
  if (m == "freespace" || m == "pinqueue" || (m.starts_with("tag:") && m.size() > 4))
    return Status::ok();
  return invalid("\"" + m + "\" is not freespace, pinqueue or tag:NAME");
}

Field text(const char* sec, const char* name, Ref<std::string> ref, Check check) {
  return {sec, name, Kind::text, [ref](DaemonConfig& c) { return json(ref(c)); },
          [ref, check](DaemonConfig& c, const json& v) -> Status {
            if (!v.is_string()) return invalid("must be a string");
            const auto& s = v.get_ref<const std::string&>();
            if (s.size() > kMaxText) return invalid("is longer than 4096 bytes");
            TRELLIS_TRY(check(s));
            ref(c) = s;
            return Status::ok();
          }};
}

// `min` is 0 or 1: whether 0 is allowed.
Field count(const char* sec, const char* name, Ref<uint64_t> ref, uint64_t min = 1) {
  return {sec, name, Kind::count, [ref](DaemonConfig& c) { return json(ref(c)); },
          [ref, min](DaemonConfig& c, const json& v) -> Status {
            if (!v.is_number_unsigned() || v.get<uint64_t>() < min)
              return invalid(min ? "must be a positive integer" : "must be 0 or a positive integer");
            ref(c) = v.get<uint64_t>();
            return Status::ok();
          }};
}

Field flag(const char* sec, const char* name, Ref<bool> ref) {
  return {sec, name, Kind::flag, [ref](DaemonConfig& c) { return json(ref(c)); },
          [ref](DaemonConfig& c, const json& v) -> Status {
            if (!v.is_boolean()) return invalid("must be true or false");
            ref(c) = v.get<bool>();
            return Status::ok();
          }};
}

Field factor(const char* sec, const char* name, Ref<int64_t> ref) {
  return {sec, name, Kind::integer, [ref](DaemonConfig& c) { return json(ref(c)); },
          [ref](DaemonConfig& c, const json& v) -> Status {
            if (!v.is_number_integer() || v.get<int64_t>() < -1 || v.get<int64_t>() == 0 ||
                v.get<int64_t>() > 1000)
              return invalid("must be -1 (every peer) or 1 to 1000");
            ref(c) = v.get<int64_t>();
            return Status::ok();
          }};
}

Field addrs(const char* sec, const char* name, Ref<std::vector<net::Multiaddr>> ref,
            bool need_peer) {
  return {sec, name, Kind::list,
          [ref](DaemonConfig& c) {
            json out = json::array();
            for (const auto& a : ref(c)) out.push_back(a.to_string());
            return out;
          },
          [ref, need_peer](DaemonConfig& c, const json& v) -> Status {
            if (!v.is_array() || v.size() > kMaxEntries)
              return invalid("must be a list of at most 64 multiaddrs");
            std::vector<net::Multiaddr> out;
            for (const auto& e : v) {
              if (!e.is_string()) return invalid("must hold strings");
              auto a = net::Multiaddr::parse(e.get<std::string>());
              if (!a) return a.status();
              if (need_peer && !a->has_peer())
                return invalid(a->to_string() + " needs /p2p/<peer ID>");
              out.push_back(*a);
            }
            ref(c) = std::move(out);
            return Status::ok();
          }};
}

Field strings(const char* sec, const char* name, Ref<std::vector<std::string>> ref, Check check,
              size_t max = kMaxEntries) {
  return {sec, name, Kind::list, [ref](DaemonConfig& c) { return json(ref(c)); },
          [ref, check, max](DaemonConfig& c, const json& v) -> Status {
            if (!v.is_array() || v.empty() || v.size() > max)
              return invalid("must be a list of 1 to " + std::to_string(max) + " strings");
            std::vector<std::string> out;
            for (const auto& e : v) {
              if (!e.is_string()) return invalid("must hold strings");
              TRELLIS_TRY(check(e.get<std::string>()));
              out.push_back(e.get<std::string>());
            }
            ref(c) = std::move(out);
            return Status::ok();
          }};
}

Field string_map(const char* sec, const char* name, Ref<std::map<std::string, std::string>> ref) {
  return {sec, name, Kind::map, [ref](DaemonConfig& c) { return json(ref(c)); },
          [ref](DaemonConfig& c, const json& v) -> Status {
            if (!v.is_object() || v.size() > kMaxEntries)
              return invalid("must be an object of at most 64 strings, e.g. {\"k\": \"v\"}");
            std::map<std::string, std::string> out;
            for (const auto& [k, e] : v.items()) {
              if (k.empty() || k.size() > 64 || !e.is_string() ||
                  e.get_ref<const std::string&>().size() > 256)
                return invalid("\"" + k + "\" must be a key of 1 to 64 bytes with a string of "
                                          "at most 256 bytes");
              out[k] = e.get<std::string>();
            }
            ref(c) = std::move(out);
            return Status::ok();
          }};
}

Field secret() {
  return {"cluster", "secret", Kind::text, [](DaemonConfig& c) { return json(c.secret.to_hex()); },
          [](DaemonConfig& c, const json& v) -> Status {
            if (!v.is_string()) return invalid("must be a hex string");
            auto s = net::ClusterSecret::parse_hex(v.get<std::string>());
            if (!s) return s.status();
            c.secret = *s;
            return Status::ok();
          }};
}

using ApiRef = HttpApiConfig& (*)(DaemonConfig&);

// The fields of one HttpApiConfig. `api` is a template argument so that the
// accessors stay captureless lambdas (Ref is a function pointer).
template <ApiRef api>
void http_api(std::vector<Field>& out, const char* sec) {
  out.push_back(text(sec, "listen", [](DaemonConfig& c) -> auto& { return api(c).listen; },
                     http_listen));
  out.push_back(string_map(sec, "basic_auth_credentials",
                           [](DaemonConfig& c) -> auto& { return api(c).basic_auth_credentials; }));
  out.push_back(text(sec, "ssl_cert_file",
                     [](DaemonConfig& c) -> auto& { return api(c).ssl_cert_file; }, any_text));
  out.push_back(text(sec, "ssl_key_file",
                     [](DaemonConfig& c) -> auto& { return api(c).ssl_key_file; }, any_text));
  out.push_back(count(sec, "max_connections",
                      [](DaemonConfig& c) -> auto& { return api(c).max_connections; }));
  out.push_back(count(sec, "max_header_bytes",
                      [](DaemonConfig& c) -> auto& { return api(c).max_header_bytes; }));
  out.push_back(count(sec, "max_body_bytes",
                      [](DaemonConfig& c) -> auto& { return api(c).max_body_bytes; }));
  out.push_back(count(sec, "read_header_timeout_ms",
                      [](DaemonConfig& c) -> auto& { return api(c).read_header_timeout_ms; }));
  out.push_back(count(sec, "read_timeout_ms",
                      [](DaemonConfig& c) -> auto& { return api(c).read_timeout_ms; }));
  out.push_back(count(sec, "write_timeout_ms",
                      [](DaemonConfig& c) -> auto& { return api(c).write_timeout_ms; }));
  out.push_back(count(sec, "idle_timeout_ms",
                      [](DaemonConfig& c) -> auto& { return api(c).idle_timeout_ms; }));
}

HttpApiConfig& restapi(DaemonConfig& c) { return c.restapi; }
HttpApiConfig& pinsvcapi(DaemonConfig& c) { return c.pinsvcapi; }

std::vector<Field> make_fields() {
  std::vector<Field> f;
  f.push_back(text("cluster", "name", MEMBER(name), peername));
  f.push_back(text("cluster", "peername", MEMBER(peername), peername));
  f.push_back(addrs("cluster", "listen", MEMBER(listen), false));
  f.push_back(addrs("cluster", "bootstrap", MEMBER(bootstrap), true));
  f.push_back(secret());
  f.push_back(count("cluster", "rebroadcast_ms", MEMBER(rebroadcast_ms)));
  f.push_back(count("cluster", "max_connections", MEMBER(max_connections)));
  f.push_back(flag("cluster", "sync_writes", MEMBER(sync_writes)));
  f.push_back(strings("cluster", "trusted_peers", MEMBER(trusted_peers), trusted_peer, 4096));
  f.push_back(flag("cluster", "follower_mode", MEMBER(follower_mode)));
  f.push_back(text("ipfs", "api", MEMBER(ipfs_api), ipfs_api));
  f.push_back(count("ipfs", "pin_timeout_ms", MEMBER(pin_timeout_ms)));
  f.push_back(count("ipfs", "pin_concurrency", MEMBER(pin_concurrency)));
  f.push_back(count("ipfs", "recover_interval_ms", MEMBER(recover_interval_ms), 0));
  f.push_back(factor("pinning", "replication_factor_min", MEMBER(replication_factor_min)));
  f.push_back(factor("pinning", "replication_factor_max", MEMBER(replication_factor_max)));
  f.push_back(count("pinning", "metrics_ttl_ms", MEMBER(metrics_ttl_ms)));
  f.push_back(count("pinning", "repin_after_ms", MEMBER(repin_after_ms)));
  f.push_back(flag("pinning", "repin", MEMBER(repin)));
  f.push_back(string_map("pinning", "tags", MEMBER(tags)));
  f.push_back(strings("pinning", "allocate_by", MEMBER(allocate_by), allocator_metric));
  http_api<restapi>(f, "restapi");
  http_api<pinsvcapi>(f, "pinsvcapi");
  f.push_back(text("metrics", "listen", MEMBER(metrics_listen), http_listen));
  f.push_back(text("log", "level", MEMBER(log_level), log_level));
  f.push_back(text("log", "format", MEMBER(log_format), log_format));
  return f;
}

bool loopback(const std::string& listen) {
  auto m = net::Multiaddr::parse(listen);
  return m && m->host.starts_with("127.");
}

Status check_api(const HttpApiConfig& api, const char* sec) {
  const std::string s = sec;
  if (api.ssl_cert_file.empty() != api.ssl_key_file.empty())
    return invalid(s + ".ssl_cert_file and " + s + ".ssl_key_file must both be set (HTTPS) or "
                   "both be empty");
  if (!api.listen.empty() && !loopback(api.listen) && api.basic_auth_credentials.empty())
    return invalid(s + ".basic_auth_credentials must be set when " + s + ".listen (" +
                   api.listen + ") is not on loopback");
  return Status::ok();
}

}  // namespace

const std::vector<Field>& fields() {
  static const std::vector<Field> all = make_fields();
  return all;
}

Status check(const DaemonConfig& c) {
  if ((c.replication_factor_min == -1) != (c.replication_factor_max == -1) ||
      c.replication_factor_min > c.replication_factor_max)
    return invalid("pinning.replication_factor_min and _max must both be -1, or min <= max");
  if (c.trusted_peers.size() > 1 && c.trust_everyone())
    return invalid("cluster.trusted_peers: \"*\" (everyone) must be the only entry");
  TRELLIS_TRY(check_api(c.restapi, "restapi"));
  return check_api(c.pinsvcapi, "pinsvcapi");
}

}  // namespace trellis::config
