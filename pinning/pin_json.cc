#include "pinning/pin_json.h"

#include <array>
#include <cstdio>

namespace trellis::pinning {

namespace {

using nlohmann::json;

constexpr int64_t kNanos = 1'000'000'000;
constexpr const char* kZeroTime = "0001-01-01T00:00:00Z";

// Days since 1970-01-01 of a proleptic Gregorian date, and back.
int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void civil_from_days(int64_t z, int64_t* y, int64_t* m, int64_t* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp + (mp < 10 ? 3 : -9);
  *y = yoe + era * 400 + (*m <= 2);
}

bool leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int64_t days_in_month(int64_t y, int64_t m) {
  static constexpr std::array<int64_t, 12> kDays = {31, 28, 31, 30, 31, 30,
                                                    31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : kDays[static_cast<size_t>(m - 1)];
}

// Reads `n` decimal digits at `pos`, advancing it; -1 when they are not there.
int64_t digits(std::string_view s, size_t* pos, size_t n) {
  if (*pos + n > s.size()) return -1;
  int64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    const char c = s[*pos + i];
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  *pos += n;
  return v;
}

bool expect(std::string_view s, size_t* pos, char c) {
  if (*pos >= s.size() || (s[*pos] != c && !(c == 'T' && s[*pos] == 't'))) return false;
  ++*pos;
  return true;
}

Status field_error(const std::string& field, const std::string& what) {
  return invalid("pin field \"" + field + "\" " + what);
}

Result<Cid> cid_value(const json& v, const std::string& field) {
  const json* text = &v;
  if (v.is_object()) {
    if (v.size() != 1 || !v.contains("/"))
      return field_error(field, "must be a CID string or {\"/\": \"<cid>\"}");
    text = &v.at("/");
  }
  if (!text->is_string()) return field_error(field, "must be a CID string or {\"/\": \"<cid>\"}");
  const auto& s = text->get_ref<const std::string&>();
  if (s.size() > kMaxStringBytes) return field_error(field, "is too long for a CID");
  auto cid = Cid::parse(s);
  if (!cid) return field_error(field, "is not a CID: " + cid.status().message());
  return *cid;
}

Result<std::optional<Cid>> opt_cid_value(const json& v, const std::string& field) {
  if (v.is_null()) return std::optional<Cid>{};
  auto cid = cid_value(v, field);
  if (!cid) return cid.status();
  return std::optional<Cid>(*cid);
}

Result<int32_t> int32_value(const json& v, const std::string& field) {
  if (!v.is_number_integer()) return field_error(field, "must be an integer");
  const auto n = v.get<int64_t>();
  if (v.is_number_unsigned() && v.get<uint64_t>() > INT32_MAX)
    return field_error(field, "is out of range");
  if (n < INT32_MIN || n > INT32_MAX) return field_error(field, "is out of range");
  return static_cast<int32_t>(n);
}

Result<std::string> string_value(const json& v, const std::string& field, size_t max) {
  if (!v.is_string()) return field_error(field, "must be a string");
  const auto& s = v.get_ref<const std::string&>();
  if (s.size() > max)
    return field_error(field, "is longer than " + std::to_string(max) + " bytes");
  return s;
}

Result<std::vector<std::string>> strings_value(const json& v, const std::string& field,
                                               size_t max) {
  std::vector<std::string> out;
  if (v.is_null()) return out;
  if (!v.is_array()) return field_error(field, "must be a list of strings or null");
  if (v.size() > max)
    return field_error(field, "has " + std::to_string(v.size()) + " entries; at most " +
                                  std::to_string(max) + " are allowed");
  for (const auto& e : v) {
    auto s = string_value(e, field + "[]", kMaxStringBytes);
    if (!s) return s.status();
    out.push_back(std::move(*s));
  }
  return out;
}

Result<std::map<std::string, std::string>> metadata_value(const json& v) {
  std::map<std::string, std::string> out;
  if (v.is_null()) return out;
  if (!v.is_object()) return field_error("metadata", "must be an object of strings or null");
  if (v.size() > kMaxMetadataEntries)
    return field_error("metadata", "has " + std::to_string(v.size()) + " entries; at most " +
                                       std::to_string(kMaxMetadataEntries) + " are allowed");
  for (const auto& [k, e] : v.items()) {
    auto s = string_value(e, "metadata." + k, kMaxMetadataBytes);
    if (!s) return s.status();
    out.emplace(k, std::move(*s));
  }
  return out;
}

Result<int64_t> time_value(const json& v, const std::string& field) {
  if (!v.is_string()) return field_error(field, "must be an RFC 3339 time string");
  auto t = parse_time(v.get_ref<const std::string&>());
  if (!t) return field_error(field, t.status().message());
  return *t;
}

Result<PinType> type_value(const json& v) {
  if (v.is_number_integer()) {
    switch (v.get<int64_t>()) {
      case 2: return PinType::data;
      case 4: return PinType::meta;
      case 8: return PinType::cluster_dag;
      case 16: return PinType::shard;
      default: break;
    }
  } else if (v.is_string()) {
    for (auto t : {PinType::data, PinType::meta, PinType::cluster_dag, PinType::shard})
      if (v.get_ref<const std::string&>() == type_name(t)) return t;
  }
  return field_error("type",
                     "must be \"pin\", \"meta-pin\", \"clusterdag-pin\" or \"shard-pin\" "
                     "(or 2, 4, 8, 16)");
}

json opt_cid_json(const std::optional<Cid>& c) { return c ? json(c->to_string()) : json(nullptr); }

// Sets one field of `p` from `v`; the field name is known to be valid.
Status read_field(Pin& p, const std::string& k, const json& v, bool* mode_only) {
  if (k == "cid") {
    auto c = cid_value(v, k);
    if (!c) return c.status();
    p.cid = *c;
  } else if (k == "type") {
    auto t = type_value(v);
    if (!t) return t.status();
    p.type = *t;
  } else if (k == "name") {
    auto s = string_value(v, k, kMaxNameBytes);
    if (!s) return s.status();
    p.name = std::move(*s);
  } else if (k == "mode") {
    auto s = string_value(v, k, kMaxStringBytes);
    if (!s) return s.status();
    auto m = parse_mode(*s);
    if (!m) return field_error(k, m.status().message());
    p.mode = *m;
  } else if (k == "replication_factor_min" || k == "replication_factor_max") {
    auto n = int32_value(v, k);
    if (!n) return n.status();
    (k == "replication_factor_min" ? p.replication_factor_min : p.replication_factor_max) = *n;
  } else if (k == "max_depth") {
    auto n = int32_value(v, k);
    if (!n) return n.status();
    p.max_depth = *n;
    *mode_only = false;
  } else if (k == "allocations" || k == "user_allocations") {
    auto l = strings_value(v, k, kMaxPeers);
    if (!l) return l.status();
    (k == "allocations" ? p.allocations : p.user_allocations) = std::move(*l);
  } else if (k == "origins") {
    auto l = strings_value(v, k, kMaxOrigins);
    if (!l) return l.status();
    p.origins = std::move(*l);
  } else if (k == "metadata") {
    auto m = metadata_value(v);
    if (!m) return m.status();
    p.metadata = std::move(*m);
  } else if (k == "pin_update" || k == "reference") {
    auto c = opt_cid_value(v, k);
    if (!c) return c.status();
    (k == "pin_update" ? p.pin_update : p.reference) = *c;
  } else if (k == "expire_at" || k == "timestamp") {
    auto t = time_value(v, k);
    if (!t) return t.status();
    (k == "expire_at" ? p.expire_at : p.timestamp) = *t;
  } else if (k == "shard_size") {
    if (!v.is_number_integer() || v.get<int64_t>() != 0)
      return field_error(k, "must be 0: Trellis does not shard pins");
  } else {
    return invalid("pin field \"" + k + "\" is unknown");
  }
  return Status::ok();
}

}  // namespace

std::string format_time(int64_t unix_nanos) {
  if (unix_nanos == 0) return kZeroTime;
  int64_t secs = unix_nanos / kNanos;
  int64_t nanos = unix_nanos % kNanos;
  if (nanos < 0) {
    nanos += kNanos;
    secs -= 1;
  }
  int64_t days = secs / 86400;
  int64_t rest = secs % 86400;
  if (rest < 0) {
    rest += 86400;
    days -= 1;
  }
  int64_t y = 0, m = 0, d = 0;
  civil_from_days(days, &y, &m, &d);
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld",
                        static_cast<long long>(y), static_cast<long long>(m),
                        static_cast<long long>(d), static_cast<long long>(rest / 3600),
                        static_cast<long long>(rest / 60 % 60), static_cast<long long>(rest % 60));
  std::string out(buf, static_cast<size_t>(n));
  if (nanos != 0) {
    std::snprintf(buf, sizeof buf, ".%09lld", static_cast<long long>(nanos));
    std::string frac(buf);
    while (frac.back() == '0') frac.pop_back();
    out += frac;
  }
  return out + "Z";
}

Result<int64_t> parse_time(std::string_view s) {
  if (s == kZeroTime) return int64_t{0};
  const Status bad = invalid("\"" + std::string(s.substr(0, 64)) +
                             "\" is not an RFC 3339 time like 2030-01-02T15:04:05Z");
  size_t pos = 0;
  const int64_t year = digits(s, &pos, 4);
  if (year < 0 || !expect(s, &pos, '-')) return bad;
  const int64_t month = digits(s, &pos, 2);
  if (month < 1 || month > 12 || !expect(s, &pos, '-')) return bad;
  const int64_t day = digits(s, &pos, 2);
  if (day < 1 || day > days_in_month(year, month) || !expect(s, &pos, 'T')) return bad;
  const int64_t hour = digits(s, &pos, 2);
  if (hour < 0 || hour > 23 || !expect(s, &pos, ':')) return bad;
  const int64_t minute = digits(s, &pos, 2);
  if (minute < 0 || minute > 59 || !expect(s, &pos, ':')) return bad;
  const int64_t second = digits(s, &pos, 2);
  if (second < 0 || second > 59) return bad;
  int64_t nanos = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int64_t scale = kNanos;
    size_t n = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (++n > 9) return bad;
      scale /= 10;
      nanos += (s[pos++] - '0') * scale;
    }
    if (n == 0) return bad;
  }
  int64_t offset = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    const int64_t sign = s[pos++] == '-' ? -1 : 1;
    const int64_t oh = digits(s, &pos, 2);
    if (oh < 0 || oh > 23 || !expect(s, &pos, ':')) return bad;
    const int64_t om = digits(s, &pos, 2);
    if (om < 0 || om > 59) return bad;
    offset = sign * (oh * 3600 + om * 60);
  } else {
    return bad;
  }
  if (pos != s.size()) return bad;
  const int64_t secs = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 +
                       second - offset;
  int64_t out = 0;
  if (__builtin_mul_overflow(secs, kNanos, &out) || __builtin_add_overflow(out, nanos, &out))
    return invalid("\"" + std::string(s) + "\" is outside the years 1678 to 2262");
  return out;
}

nlohmann::json pin_to_json(const Pin& p) {
  json j = json::object();
  j["replication_factor_min"] = p.replication_factor_min;
  j["replication_factor_max"] = p.replication_factor_max;
  j["name"] = p.name;
  j["mode"] = mode_name(p.mode);
  j["shard_size"] = 0;
  j["user_allocations"] = p.user_allocations;
  j["expire_at"] = format_time(p.expire_at);
  j["metadata"] = p.metadata;
  j["pin_update"] = opt_cid_json(p.pin_update);
  j["origins"] = p.origins;
  j["cid"] = p.cid.to_string();
  j["type"] = type_name(p.type);
  j["allocations"] = p.allocations;
  j["max_depth"] = p.max_depth;
  j["reference"] = opt_cid_json(p.reference);
  j["timestamp"] = format_time(p.timestamp);
  return j;
}

Result<Pin> pin_from_json(const nlohmann::json& j) {
  if (!j.is_object()) return invalid("a pin must be a JSON object");
  if (!j.contains("cid")) return invalid("pin field \"cid\" is missing");
  Pin p;
  bool mode_only = true;  // max_depth absent: derive it from mode
  for (const auto& [k, v] : j.items()) TRELLIS_TRY(read_field(p, k, v, &mode_only));
  if (mode_only) p.max_depth = p.mode == Mode::direct ? 0 : -1;
  TRELLIS_TRY(validate(p));
  return p;
}

}  // namespace trellis::pinning
