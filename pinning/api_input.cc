#include "pinning/api_input.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "pinning/rfc3339.h"

namespace trellis::pinning {

using json = nlohmann::json;

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding; `plus` turns '+' into a space (query strings).
std::optional<std::string> decode(std::string_view s, bool plus) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(plus && s[i] == '+' ? ' ' : s[i]);
    }
  }
  return out;
}

}  // namespace

std::optional<Target> parse_target(std::string_view target) {
  Target r;
  size_t q = target.find('?');
  auto path = decode(target.substr(0, q), false);
  if (!path) return std::nullopt;
  r.path = std::move(*path);
  if (q == std::string_view::npos) return r;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    auto k = decode(pair.substr(0, eq), true);
    auto v = decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), true);
    if (!k || !v) return std::nullopt;
    r.query.emplace_back(std::move(*k), std::move(*v));
  }
  return r;
}

Result<Pin> pin_of_body(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_object()) return invalid("the body must be a JSON Pin object: {\"cid\": …}");
  if (!j["cid"].is_string()) return invalid("pin.cid is missing");
  auto cid = Cid::parse(j["cid"].get<std::string>());
  if (!cid) return invalid("pin.cid: " + cid.status().message());
  Pin p;
  p.cid = *cid;
  if (j.contains("name")) {
    if (!j["name"].is_string() || j["name"].get<std::string>().size() > 255)
      return invalid("pin.name must be a string of at most 255 characters");
    p.name = j["name"].get<std::string>();
  }
  if (j.contains("origins")) {
    if (!j["origins"].is_array() || j["origins"].size() > 20)
      return invalid("pin.origins must be a list of at most 20 multiaddrs");
    for (const auto& o : j["origins"]) {
      if (!o.is_string()) return invalid("pin.origins must hold strings");
      p.origins.push_back(o.get<std::string>());
    }
  }
  if (j.contains("meta")) {
    if (!j["meta"].is_object()) return invalid("pin.meta must be an object of strings");
    for (const auto& [k, v] : j["meta"].items()) {
      if (!v.is_string()) return invalid("pin.meta." + k + " must be a string");
      p.metadata[k] = v.get<std::string>();
    }
  }
  return p;
}

Result<PinQuery> parse_pin_query(const QueryParams& params) {
  PinQuery q;
  for (const auto& [k, v] : params) {
    if (k == "cid") {
      for (auto& c : split_commas(v)) q.cids.push_back(c);
    } else if (k == "status") {
      for (auto& s : split_commas(v)) {
        if (s != "queued" && s != "pinning" && s != "pinned" && s != "failed")
          return invalid("status \"" + s + "\" is not queued, pinning, pinned or failed");
        q.statuses.push_back(s);
      }
    } else if (k == "name") {
      q.name = v;
    } else if (k == "match") {
      if (v != "exact" && v != "iexact" && v != "partial" && v != "ipartial")
        return invalid("match must be exact, iexact, partial or ipartial");
      q.match = v;
    } else if (k == "before" || k == "after") {
      auto t = parse_rfc3339(v);
      if (!t) return invalid(k + ": " + t.status().message());
      (k == "before" ? q.before : q.after) = *t;
    } else if (k == "limit") {
      size_t n = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc() || p != v.data() + v.size() || n < 1 || n > kMaxListLimit)
        return invalid("limit must be 1 to 1000");
      q.limit = n;
    } else if (k == "meta") {
      json m = json::parse(v, nullptr, false);
      if (!m.is_object()) return invalid("meta must be a JSON object of strings");
      for (const auto& [mk, mv] : m.items()) {
        if (!mv.is_string()) return invalid("meta." + mk + " must be a string");
        q.meta[mk] = mv.get<std::string>();
      }
    } else if (k.starts_with("meta[") && k.ends_with("]") && k.size() > 6) {
      q.meta[k.substr(5, k.size() - 6)] = v;  // meta[key]=value, as clients send it
    }
  }
  return q;
}

}  // namespace trellis::pinning
