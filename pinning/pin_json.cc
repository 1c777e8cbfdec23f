#include "pinning/pin_json.h"

#include "pinning/rfc3339.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "crdt/multibase.h"

namespace trellis::pinning {

namespace {

using nlohmann::json;

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
  auto t = parse_rfc3339(v.get_ref<const std::string&>());
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

// One writer of a pin's JSON (append_pin_json, which the listings need
// without a tree); the tree is read back from its text.
nlohmann::json pin_to_json(const Pin& p) {
  std::string text;
  append_pin_json(p, text);
  return json::parse(text);
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

namespace {

// Appends through a raw pointer: std::string's append, with its call and
// checks per field, was a fifth of a listing's CPU. Room is made ahead in
// steps; the destructor trims the string to what was written.
class Out {
 public:
  explicit Out(std::string& s) : s_(s), at_(s.size()) { s_.resize(at_ + kStep); }
  ~Out() { s_.resize(at_); }
  Out(const Out&) = delete;
  Out& operator=(const Out&) = delete;

  // Room for n more characters, at the returned pointer; commit with done().
  [[gnu::always_inline]] char* room(size_t n) {
    if (s_.size() - at_ < n) s_.resize(at_ + n + kStep);
    return s_.data() + at_;
  }
  void done(char* end) { at_ = static_cast<size_t>(end - s_.data()); }

  [[gnu::always_inline]] void put(char c) {
    *room(1) = c;
    ++at_;
  }
  [[gnu::always_inline]] void put(std::string_view v) {
    std::memcpy(room(v.size()), v.data(), v.size());
    at_ += v.size();
  }
  // A string literal, without measuring it at run time.
  template <size_t N>
  void lit(const char (&text)[N]) {
    put(std::string_view(text, N - 1));
  }

  // A JSON string as nlohmann's dump() writes it. Printable ASCII without
  // '"' and '\\' is copied; anything else goes through nlohmann itself, so
  // the two writers cannot differ (non-ASCII, escapes, invalid UTF-8).
  void string(std::string_view v) {
    char* p = room(v.size() + 2);
    *p++ = '"';
    for (char c : v) {
      if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
        put(json(std::string(v)).dump());  // nothing was committed yet
        return;
      }
      *p++ = c;
    }
    *p++ = '"';
    done(p);
  }

  void strings(const std::vector<std::string>& v) {
    put('[');
    for (size_t i = 0; i < v.size(); ++i) {
      if (i) put(',');
      string(v[i]);
    }
    put(']');
  }

  // CIDs and RFC 3339 times are plain ASCII: quoted as they are.
  void cid(const Cid& c) {
    if (c.version() == 0) {
      put('"');
      put(c.to_string());
      put('"');
      return;
    }
    char* p = room(base32_size(c.bytes().size()) + 3);
    *p++ = '"';
    *p++ = 'b';
    p = base32_write(c.bytes(), p);
    *p++ = '"';
    done(p);
  }

  void opt_cid(const std::optional<Cid>& c) {
    if (c)
      cid(*c);
    else
      lit("null");
  }

  void time(int64_t unix_ns) {
    char* p = room(kRfc3339Max + 2);
    *p++ = '"';
    p = write_rfc3339(unix_ns, p);
    *p++ = '"';
    done(p);
  }

  void number(int64_t n) {
    char* p = room(20);
    done(std::to_chars(p, p + 20, n).ptr);
  }

 private:
  static constexpr size_t kStep = 512;  // ~430 bytes of JSON per pin
  std::string& s_;
  size_t at_;
};

}  // namespace

void append_pin_json(const Pin& p, std::string& s) {
  Out out(s);
  // nlohmann's object is a std::map: keys in byte order.
  out.lit("{\"allocations\":");
  out.strings(p.allocations);
  out.lit(",\"cid\":");
  out.cid(p.cid);
  out.lit(",\"expire_at\":");
  out.time(p.expire_at);
  out.lit(",\"max_depth\":");
  out.number(p.max_depth);
  out.lit(",\"metadata\":{");
  bool first = true;
  for (const auto& [k, v] : p.metadata) {
    if (!first) out.put(',');
    first = false;
    out.string(k);
    out.put(':');
    out.string(v);
  }
  out.lit("},\"mode\":");
  out.string(mode_name(p.mode));
  out.lit(",\"name\":");
  out.string(p.name);
  out.lit(",\"origins\":");
  out.strings(p.origins);
  out.lit(",\"pin_update\":");
  out.opt_cid(p.pin_update);
  out.lit(",\"reference\":");
  out.opt_cid(p.reference);
  out.lit(",\"replication_factor_max\":");
  out.number(p.replication_factor_max);
  out.lit(",\"replication_factor_min\":");
  out.number(p.replication_factor_min);
  out.lit(",\"shard_size\":0,\"timestamp\":");
  out.time(p.timestamp);
  out.lit(",\"type\":");
  out.string(type_name(p.type));
  out.lit(",\"user_allocations\":");
  out.strings(p.user_allocations);
  out.put('}');
}

}  // namespace trellis::pinning
