#include "daemon/config.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "crdt/files.h"
#include "daemon/config_fields.h"

namespace trellis {

using json = nlohmann::json;

std::string identity_path(const std::string& dir) { return dir + "/identity.json"; }
std::string config_path(const std::string& dir) { return dir + "/config.json"; }
std::string state_path(const std::string& dir) { return dir + "/state"; }
std::string peerstore_path(const std::string& dir) { return dir + "/peerstore.json"; }
std::string control_path(const std::string& dir) { return dir + "/control.sock"; }


Result<std::pair<std::string, uint16_t>> ipfs_endpoint(const std::string& multiaddr) {
  auto m = net::Multiaddr::parse(multiaddr);
  if (!m) return invalid(m.status().message());
  if (m->kind != net::Multiaddr::Kind::ip4 || !m->is_dialable())
    return invalid(multiaddr + " is not a dialable /ip4/A.B.C.D/tcp/PORT address");
  return std::pair{m->host, m->port};
}

namespace {

using config::Field;
using config::Kind;

std::string upper(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return s;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(sep, start);
    if (end == std::string::npos) end = s.size();
    std::string part = s.substr(start, end - start);
    part.erase(0, part.find_first_not_of(" \t"));
    part.erase(part.find_last_not_of(" \t") + 1);
    if (!part.empty()) out.push_back(part);
    start = end + 1;
  }
  return out;
}

// An environment variable's text as the JSON value of a field of `kind`.
Result<json> env_value(Kind kind, const std::string& text) {
  switch (kind) {
    case Kind::text:
      return json(text);
    case Kind::count:
    case Kind::integer: {
      json v = json::parse(text, nullptr, false);
      if (v.is_discarded() || !v.is_number_integer())
        return invalid("\"" + text + "\" is not an integer");
      return v;
    }
    case Kind::flag:
      if (text == "true" || text == "1") return json(true);
      if (text == "false" || text == "0") return json(false);
      return invalid("\"" + text + "\" is not true, false, 1 or 0");
    case Kind::list:
      return json(split(text, ','));
    case Kind::map: {
      if (text.starts_with("{")) {
        json v = json::parse(text, nullptr, false);
        if (v.is_discarded()) return invalid("is not a JSON object");
        return v;
      }
      json out = json::object();
      for (const auto& pair : split(text, ',')) {
        size_t eq = pair.find('=');
        if (eq == std::string::npos) return invalid("\"" + pair + "\" is not KEY=VALUE");
        out[pair.substr(0, eq)] = pair.substr(eq + 1);
      }
      return out;
    }
  }
  return invalid("unknown kind");
}

const Field* find_field(const std::string& section, const std::string& name) {
  for (const auto& f : config::fields())
    if (section == f.section && name == f.name) return &f;
  return nullptr;
}

Status apply_file(DaemonConfig& c, const json& j, const std::string& path, bool* has_secret) {
  for (const auto& [section, fields] : j.items()) {
    if (std::none_of(config::fields().begin(), config::fields().end(),
                     [&](const Field& f) { return section == f.section; }))
      return invalid(path + ": unknown section \"" + section + "\"");
    if (!fields.is_object()) return invalid(path + ": \"" + section + "\" must be an object");
    for (const auto& [name, value] : fields.items()) {
      const Field* f = find_field(section, name);
      if (!f) return invalid(path + ": unknown field \"" + section + "." + name + "\"");
      if (Status st = f->set(c, value); !st)
        return Status(st.code(), path + ": " + section + "." + name + ": " + st.message());
      if (f->name == std::string_view("secret")) *has_secret = true;
    }
  }
  return Status::ok();
}

Status apply_env(DaemonConfig& c, bool* has_secret) {
  for (const auto& f : config::fields()) {
    const std::string var = "TRELLIS_" + upper(f.section) + "_" + upper(f.name);
    const char* text = std::getenv(var.c_str());
    if (!text) continue;
    auto value = env_value(f.kind, text);
    Status st = value ? f.set(c, *value) : value.status();
    if (!st) return Status(st.code(), var + ": " + st.message());
    if (f.name == std::string_view("secret")) *has_secret = true;
  }
  return Status::ok();
}

}  // namespace

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "trellis";
  return buf;
}

bool DaemonConfig::trust_everyone() const {
  return std::find(trusted_peers.begin(), trusted_peers.end(), "*") != trusted_peers.end();
}

Result<DaemonConfig> DaemonConfig::load(const std::string& path) {
  auto text = read_file(path, 1 << 20);
  if (!text && text.status().code() == Code::not_found)
    return Status(Code::not_found, path + " does not exist (run `trellisd init` first)");
  if (!text) return text.status();
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return corrupt(path + " is not a JSON object");
  DaemonConfig c;
  c.peername = host_name();
  bool has_secret = false;
  TRELLIS_TRY(apply_file(c, j, path, &has_secret));
  TRELLIS_TRY(apply_env(c, &has_secret));
  if (!has_secret) return invalid(path + ": cluster.secret is missing");
  if (Status st = config::check(c); !st) return Status(st.code(), path + ": " + st.message());
  return c;
}

Status DaemonConfig::save(const std::string& path, bool overwrite) const {
  if (!overwrite && access(path.c_str(), F_OK) == 0)
    return invalid(path + " exists; refusing to overwrite it");
  DaemonConfig copy = *this;
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const auto& f : config::fields()) j[f.section][f.name] = f.get(copy);
  return write_file_atomic(path, j.dump(2) + "\n", 0600);  // it holds the secret
}

}  // namespace trellis
