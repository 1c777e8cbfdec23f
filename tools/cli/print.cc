#include "tools/cli/print.h"

#include <algorithm>
#include <ctime>
#include <map>
#include <sstream>
#include <vector>

namespace trellis::cli {

namespace {

std::string str(const json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

std::vector<std::string> strings(const json& j, const char* key) {
  std::vector<std::string> out;
  if (!j.is_object()) return out;
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& v : *it)
    if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string unix_nano(const json& v) {
  if (!v.is_number_integer()) return "?";
  int64_t ns = v.get<int64_t>();
  std::time_t secs = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// DOT identifiers are quoted; peer IDs and names need only '"' and '\' escaped.
std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string short_id(const std::string& id) {
  if (id.size() <= 14) return id;
  return id.substr(0, 7) + "…" + id.substr(id.size() - 4);
}

std::string format_id(const json& id) {
  std::ostringstream o;
  auto peers = strings(id, "cluster_peers");
  size_t others =
      peers.size() - static_cast<size_t>(std::count(peers.begin(), peers.end(), str(id, "id")));
  o << str(id, "id") << " | " << str(id, "peername") << " | Sees " << others << " other peers\n";
  if (auto err = str(id, "error"); !err.empty()) o << "  > Error: " << err << "\n";
  auto addrs = strings(id, "addresses");
  if (!addrs.empty()) o << "  > Addresses:\n";
  for (const auto& a : addrs) o << "    - " << a << "\n";
  const json ipfs = id.is_object() && id.contains("ipfs") ? id["ipfs"] : json::object();
  if (auto err = str(ipfs, "error"); !err.empty()) {
    o << "  > IPFS ERROR: " << err << "\n";
  } else if (!str(ipfs, "id").empty()) {
    o << "  > IPFS: " << str(ipfs, "id") << "\n";
    for (const auto& a : strings(ipfs, "addresses")) o << "    - " << a << "\n";
  }
  return o.str();
}

std::string format_pin(const json& pin) {
  std::ostringstream o;
  o << str(pin, "cid") << " | " << str(pin, "name") << " | " << upper(str(pin, "type"));
  int min = pin.value("replication_factor_min", 0), max = pin.value("replication_factor_max", 0);
  o << " | Repl. Factor: ";
  if (min == -1 || max == -1)
    o << "-1";
  else
    o << min << "--" << max;
  auto allocs = strings(pin, "allocations");
  o << " | Allocations: ";
  if (allocs.empty()) {
    o << "[everywhere]";
  } else {
    o << "[";
    for (size_t i = 0; i < allocs.size(); ++i) o << (i ? " " : "") << allocs[i];
    o << "]";
  }
  std::string mode = str(pin, "mode");
  o << " | " << (mode == "direct" ? "Direct" : "Recursive");
  const json meta = pin.is_object() && pin.contains("metadata") ? pin["metadata"] : json();
  if (meta.is_object() && !meta.empty()) {
    o << " | Metadata:";
    for (const auto& [k, v] : meta.items())
      o << " " << k << "=" << (v.is_string() ? v.get<std::string>() : v.dump());
  } else {
    o << " | Metadata: no";
  }
  std::string exp = str(pin, "expire_at");
  o << " | Exp: " << (exp.empty() || exp.starts_with("0001-01-01") ? "∞" : exp);
  o << " | Added: " << str(pin, "timestamp") << "\n";
  return o.str();
}

std::string format_status(const json& gpi) {
  std::ostringstream o;
  o << str(gpi, "cid") << " | " << str(gpi, "name") << ":\n";
  const json peers = gpi.is_object() && gpi.contains("peer_map") ? gpi["peer_map"] : json();
  if (!peers.is_object()) return o.str();
  // Sorted by the name shown, like IPFS Cluster, so output is stable.
  std::map<std::string, const json*> rows;
  for (const auto& [pid, info] : peers.items()) {
    std::string name = str(info, "peername");
    rows[(name.empty() ? pid : name) + "\n" + pid] = &info;
  }
  size_t width = 0;
  for (const auto& [key, info] : rows) width = std::max(width, key.find('\n'));
  for (const auto& [key, info] : rows) {
    std::string name = key.substr(0, key.find('\n'));
    o << "    > " << name << std::string(width - name.size(), ' ') << " : "
      << upper(str(*info, "status")) << " | " << str(*info, "timestamp");
    if (auto err = str(*info, "error"); !err.empty()) o << " | " << err;
    o << "\n";
  }
  return o.str();
}

std::string format_metric(const json& m) {
  std::ostringstream o;
  o << str(m, "peer") << " | " << str(m, "name") << ": " << str(m, "value")
    << " | Expires: " << unix_nano(m.is_object() ? m.value("expire", json()) : json())
    << (m.is_object() && m.value("valid", false) ? "" : " (invalid)") << "\n";
  return o.str();
}

std::string format_alert(const json& a) {
  std::ostringstream o;
  o << str(a, "peer") << ": " << str(a, "name")
    << " alert. Expired at: " << unix_nano(a.is_object() ? a.value("expire", json()) : json())
    << ". Triggered at: " << str(a, "triggered_at") << "\n";
  return o.str();
}

std::string format_dot(const json& g) {
  auto map = [&](const char* key) {
    return g.is_object() && g.contains(key) && g[key].is_object() ? g[key] : json::object();
  };
  const json names = map("id_to_peername"), links = map("cluster_links"),
             to_ipfs = map("cluster_to_ipfs"), ipfs_links = map("ipfs_links");
  std::ostringstream o;
  o << "digraph cluster {\n";
  o << "  // cluster peers (boxes), their IPFS daemons (ellipses)\n";
  o << "  node [fontname=\"Helvetica\"];\n";
  std::string self = str(g, "cluster_id");
  std::map<std::string, bool> cluster_nodes, ipfs_nodes;
  for (const auto& [pid, _] : names.items()) cluster_nodes[pid] = true;
  for (const auto& [pid, peers] : links.items()) {
    cluster_nodes[pid] = true;
    if (peers.is_array())
      for (const auto& p : peers)
        if (p.is_string()) cluster_nodes[p.get<std::string>()] = true;
  }
  for (const auto& [pid, ipfs] : to_ipfs.items())
    if (ipfs.is_string()) ipfs_nodes[ipfs.get<std::string>()] = true;
  for (const auto& [pid, peers] : ipfs_links.items()) {
    ipfs_nodes[pid] = true;
    if (peers.is_array())
      for (const auto& p : peers)
        if (p.is_string()) ipfs_nodes[p.get<std::string>()] = true;
  }
  for (const auto& [pid, _] : cluster_nodes) {
    std::string name = str(names, pid.c_str());
    o << "  " << quote("C-" + pid)
      << " [shape=box, label=" << quote((name.empty() ? "" : name + "\n") + short_id(pid))
      << (pid == self ? ", style=filled, fillcolor=\"#c6e2ff\"" : "") << "];\n";
  }
  for (const auto& [pid, _] : ipfs_nodes)
    o << "  " << quote("I-" + pid) << " [shape=ellipse, label=" << quote("IPFS\n" + short_id(pid))
      << "];\n";
  for (const auto& [pid, peers] : links.items())
    if (peers.is_array())
      for (const auto& p : peers)
        if (p.is_string())
          o << "  " << quote("C-" + pid) << " -> " << quote("C-" + p.get<std::string>()) << ";\n";
  for (const auto& [pid, ipfs] : to_ipfs.items())
    if (ipfs.is_string())
      o << "  " << quote("C-" + pid) << " -> " << quote("I-" + ipfs.get<std::string>())
        << " [style=dotted];\n";
  for (const auto& [pid, peers] : ipfs_links.items())
    if (peers.is_array())
      for (const auto& p : peers)
        if (p.is_string())
          o << "  " << quote("I-" + pid) << " -> " << quote("I-" + p.get<std::string>())
            << " [style=dashed];\n";
  o << "}\n";
  return o.str();
}

}  // namespace trellis::cli
