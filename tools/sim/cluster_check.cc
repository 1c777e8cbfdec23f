// Cluster: reading and comparing replica states, and describing why a
// cluster is not quiet (split from cluster.cc).
#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "tools/sim/cluster.h"

namespace trellis::sim {

namespace {

std::string show(const std::optional<Bytes>& v) {
  return v ? "\"" + short_hex(*v) + "\"" : std::string("<absent>");
}

}  // namespace

// ---- checking ----

Result<std::map<std::string, Bytes>> Cluster::map(size_t i) {
  if (!up(i)) return Status(Code::invalid_argument, name(i) + " is down");
  std::map<std::string, Bytes> out;
  for (const auto& k : keys_) {
    auto v = nodes_[i]->replica->get(k);
    if (!v) return v.status();
    if (*v) out.emplace(k, std::move(**v));
  }
  return out;
}

Result<std::map<std::string, Bytes>> Cluster::scan_map(size_t i) {
  if (!up(i)) return Status(Code::invalid_argument, name(i) + " is down");
  std::map<std::string, Bytes> out;
  TRELLIS_TRY(nodes_[i]->replica->scan("", [&](std::string_view k, ByteView v) {
    out.emplace(std::string(k), Bytes(v.begin(), v.end()));
    return true;
  }));
  for (const auto& [k, v] : out) keys_.insert(k);
  return out;
}

Result<std::vector<Cid>> Cluster::sorted_heads(size_t i) {
  if (!up(i)) return Status(Code::invalid_argument, name(i) + " is down");
  auto h = nodes_[i]->replica->heads();
  if (!h) return h.status();
  std::sort(h->begin(), h->end());
  return h;
}

namespace {

// The first key where two maps differ, with both values.
std::string first_difference(const std::map<std::string, Bytes>& a, const std::string& an,
                             const std::map<std::string, Bytes>& b, const std::string& bn) {
  std::set<std::string> keys;
  for (const auto& [k, v] : a) keys.insert(k);
  for (const auto& [k, v] : b) keys.insert(k);
  for (const auto& k : keys) {
    auto ia = a.find(k);
    auto ib = b.find(k);
    std::optional<Bytes> va = ia == a.end() ? std::nullopt : std::optional<Bytes>(ia->second);
    std::optional<Bytes> vb = ib == b.end() ? std::nullopt : std::optional<Bytes>(ib->second);
    if (va != vb) return fmt::format("key \"{}\": {}={} {}={}", k, an, show(va), bn, show(vb));
  }
  return "";
}

}  // namespace

std::string Cluster::compare() {
  std::vector<std::map<std::string, Bytes>> scans, maps;
  std::vector<std::vector<Cid>> heads;
  // Scans first: every key they list joins keys() before get() reads them.
  for (size_t i = 0; i < nodes_.size(); ++i) {
    auto s = scan_map(i);
    if (!s) return name(i) + ": scan failed: " + s.status().to_string();
    scans.push_back(std::move(*s));
  }
  for (size_t i = 0; i < nodes_.size(); ++i) {
    auto m = map(i);
    if (!m) return name(i) + ": cannot read its map: " + m.status().to_string();
    auto h = sorted_heads(i);
    if (!h) return name(i) + ": cannot read its heads: " + h.status().to_string();
    maps.push_back(std::move(*m));
    heads.push_back(std::move(*h));
  }
  std::vector<std::string> diffs;
  for (size_t i = 1; i < nodes_.size(); ++i) {
    if (maps[i] != maps[0])
      diffs.push_back(fmt::format("{} and {} hold different maps ({} vs {} keys); first {}",
                                  name(0), name(i), maps[0].size(), maps[i].size(),
                                  first_difference(maps[0], name(0), maps[i], name(i))));
    if (heads[i] != heads[0]) {
      std::string h0, hi;
      for (const auto& c : heads[0]) h0 += " " + short_cid(c);
      for (const auto& c : heads[i]) hi += " " + short_cid(c);
      diffs.push_back(fmt::format("{} and {} have different heads: {} [{} ] vs {} [{} ]", name(0),
                                  name(i), name(0), h0, name(i), hi));
    }
  }
  // get() and scan("") must agree on every replica.
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (scans[i] != maps[i])
      diffs.push_back(fmt::format("{}: scan(\"\") lists {} keys but get() finds {}; first {}",
                                  name(i), scans[i].size(), maps[i].size(),
                                  first_difference(scans[i], "scan", maps[i], "get")));
  std::string out;
  for (const auto& d : diffs) out += (out.empty() ? "" : "; ") + d;
  return out;
}

std::string Cluster::describe() {
  std::string out = fmt::format("at {} ms, {} messages in flight", now_, in_flight_);
  if (partitioned()) out += ", partitioned";
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (!up(i)) {
      out += fmt::format("; {} is down", name(i));
      continue;
    }
    Replica& r = *nodes_[i]->replica;
    auto info = r.info();
    if (!info) {
      out += fmt::format("; {}: info failed: {}", name(i), info.status().to_string());
      continue;
    }
    out += fmt::format(
        "; {}: {} heads (max height {}), {} blocks, {} merged, {} pending, "
        "{} ready, {} wants",
        name(i), info->heads.size(), info->max_height, info->blocks, info->merged, info->pending,
        info->ready, info->wants);
    auto wants = r.wants(3);
    if (!wants) continue;
    for (const auto& w : *wants) {
      std::string holders;
      bool self = false;
      for (size_t p = 0; p < nodes_.size(); ++p) {
        if (!up(p)) continue;
        bool has = false;
        (void)nodes_[p]->replica->store().read([&](const Txn& txn) {
          has = txn.has(nodes_[p]->replica->store().dbs().blocks, w.cid.view());
          return Status::ok();
        });
        if (has) holders += " " + name(p);
        if (has && p == i) self = true;
      }
      out += fmt::format(" [wants {} (hint \"{}\"), stored on:{}{}]", short_cid(w.cid), w.peer,
                         holders.empty() ? " nobody" : holders,
                         self ? fmt::format(" — a stale want: {} stores it itself", name(i)) : "");
    }
  }
  return out;
}

}  // namespace trellis::sim
