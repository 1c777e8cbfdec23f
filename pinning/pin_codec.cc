// The stored pin's msgpack encoding: encode_pin() through msgpack-cxx's
// packer, and decode_pin(), which reads the array field by field without
// building a msgpack object tree. Listings, the tracker's hook and
// maintenance decode every pin, so this is on every hot path; an earlier
// version through msgpack-cxx's object unpacking spent most of a listing's
// time allocating. Every read is bounded by the bytes left, so a count or a
// length cannot make it allocate more than the (at most 64 KiB) input.
#include "crdt/pack.h"
#include "pinning/pin.h"

namespace trellis::pinning {

namespace {

constexpr uint32_t kFields = 16;

void pack_strings(pack::Packer& pk, const std::vector<std::string>& v) {
  pk.pack_array(static_cast<uint32_t>(v.size()));
  for (const auto& s : v) pack::str(pk, s);
}

void pack_opt_cid(pack::Packer& pk, const std::optional<Cid>& c) {
  if (c)
    pack::bin(pk, c->view());
  else
    pk.pack_nil();
}

class Reader {
 public:
  explicit Reader(ByteView b) : p_(b.data()), end_(b.data() + b.size()) {}

  size_t left() const { return static_cast<size_t>(end_ - p_); }

  Result<uint32_t> array(const char* what) { return header(0x90, 0xdc, what, "an array"); }
  Result<uint32_t> map(const char* what) { return header(0x80, 0xde, what, "a map"); }

  // Any msgpack integer; `what` names it in errors.
  Result<int64_t> integer(const char* what) {
    TRELLIS_TRY(need(1));
    uint8_t t = *p_;
    if (t <= 0x7f) return ++p_, int64_t{t};
    if (t >= 0xe0) return ++p_, int64_t{static_cast<int8_t>(t)};
    if (t >= 0xcc && t <= 0xcf) {
      size_t n = size_t{1} << (t - 0xcc);
      TRELLIS_TRY(need(1 + n));
      ++p_;
      uint64_t v = be(n);
      if (v > static_cast<uint64_t>(INT64_MAX)) return corrupt(std::string(what) + " is out of range");
      return static_cast<int64_t>(v);
    }
    if (t >= 0xd0 && t <= 0xd3) {
      size_t n = size_t{1} << (t - 0xd0);
      TRELLIS_TRY(need(1 + n));
      ++p_;
      uint64_t v = be(n);
      int shift = static_cast<int>(64 - 8 * n);  // sign-extend n bytes
      return static_cast<int64_t>(v << shift) >> shift;
    }
    return corrupt(std::string(what) + " is not an integer");
  }

  Result<int32_t> int32(const char* what) {
    auto v = integer(what);
    if (!v) return v.status();
    if (*v < INT32_MIN || *v > INT32_MAX) return corrupt(std::string(what) + " is out of range");
    return static_cast<int32_t>(*v);
  }

  Result<uint64_t> uint64(const char* what) {
    auto v = integer(what);
    if (!v) return v.status();
    if (*v < 0) return corrupt(std::string(what) + " is not a non-negative integer");
    return static_cast<uint64_t>(*v);
  }

  Result<std::string_view> str(const char* what) {
    TRELLIS_TRY(need(1));
    uint8_t t = *p_;
    size_t n = 0;
    if (t >= 0xa0 && t <= 0xbf) {
      ++p_;
      n = t & 0x1fu;
    } else if (t >= 0xd9 && t <= 0xdb) {
      auto c = count(size_t{1} << (t - 0xd9));
      if (!c) return c.status();
      n = *c;
    } else {
      return corrupt(std::string(what) + " is not a string");
    }
    TRELLIS_TRY(need(n));
    std::string_view s(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return s;
  }

  Result<ByteView> bin(const char* what) {
    TRELLIS_TRY(need(1));
    uint8_t t = *p_;
    if (t < 0xc4 || t > 0xc6) return corrupt(std::string(what) + " is not binary");
    auto n = count(size_t{1} << (t - 0xc4));
    if (!n) return n.status();
    TRELLIS_TRY(need(*n));
    ByteView b(p_, *n);
    p_ += *n;
    return b;
  }

  // Consumes a nil if one is next.
  bool nil() {
    if (left() == 0 || *p_ != 0xc0) return false;
    ++p_;
    return true;
  }

 private:
  Status need(size_t n) const {
    return left() >= n ? Status::ok() : corrupt("pin is truncated");
  }
  uint64_t be(size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | p_[i];
    p_ += n;
    return v;
  }
  // An array or map header: `fix` with the count in its low 4 bits, or
  // `wide` / `wide + 1` followed by a 16- / 32-bit count.
  Result<uint32_t> header(uint8_t fix, uint8_t wide, const char* what, const char* kind) {
    TRELLIS_TRY(need(1));
    uint8_t t = *p_;
    if (t >= fix && t <= fix + 0x0f) return ++p_, uint32_t{t & 0x0fu};
    if (t == wide || t == wide + 1) return count(t == wide ? 2 : 4);
    return corrupt(std::string(what) + " is not " + kind);
  }
  // A header byte then an n-byte big-endian count.
  Result<uint32_t> count(size_t n) {
    TRELLIS_TRY(need(1 + n));
    ++p_;
    return static_cast<uint32_t>(be(n));
  }

  const uint8_t* p_;
  const uint8_t* end_;
};

Status read_strings(Reader& r, std::vector<std::string>& out, const char* what) {
  auto n = r.array(what);
  if (!n) return n.status();
  if (*n > kMaxPeers) return corrupt(std::string(what) + " has " + std::to_string(*n) + " entries");
  if (*n > r.left()) return corrupt("pin is truncated");  // each entry takes a byte
  out.resize(*n);
  for (auto& s : out) {
    auto v = r.str(what);
    if (!v) return v.status();
    s.assign(*v);
  }
  return Status::ok();
}

Status read_opt_cid(Reader& r, std::optional<Cid>& out, const char* what) {
  if (r.nil()) {
    out.reset();
    return Status::ok();
  }
  auto b = r.bin(what);
  if (!b) return b.status();
  auto cid = Cid::from_bytes(*b);
  if (!cid) return corrupt(std::string(what) + ": " + cid.status().message());
  out = std::move(*cid);
  return Status::ok();
}

}  // namespace

Status decode_pin_into(ByteView bytes, Pin& p) {
  if (bytes.size() > kMaxEncodedPin)
    return too_large("pin is " + std::to_string(bytes.size()) + " bytes; at most " +
                     std::to_string(kMaxEncodedPin) + " are allowed");
  Reader r(bytes);
  auto fields = r.array("pin");
  if (!fields) return fields.status();
  if (*fields == 0) return corrupt("pin is empty");
  auto version = r.uint64("pin version");
  if (!version) return version.status();
  if (*version != kPinVersion)
    return Status(Code::unsupported, "pin version " + std::to_string(*version) +
                                         " is not supported (this build reads version " +
                                         std::to_string(kPinVersion) + ")");
  if (*fields != kFields)
    return corrupt("pin has " + std::to_string(*fields) + " fields, expected " +
                   std::to_string(kFields));
  auto cid_bytes = r.bin("pin cid");
  if (!cid_bytes) return cid_bytes.status();
  auto cid = Cid::from_bytes(*cid_bytes);
  if (!cid) return corrupt("pin cid: " + cid.status().message());
  p.cid = std::move(*cid);
  auto type = r.uint64("pin type");
  if (!type) return type.status();
  if (*type < 1 || *type > 4) return corrupt("pin type " + std::to_string(*type) + " is unknown");
  p.type = static_cast<PinType>(*type);
  auto name = r.str("pin name");
  if (!name) return name.status();
  p.name.assign(*name);
  auto mode = r.uint64("pin mode");
  if (!mode) return mode.status();
  if (*mode > 1) return corrupt("pin mode " + std::to_string(*mode) + " is unknown");
  p.mode = static_cast<Mode>(*mode);
  auto rmin = r.int32("replication_factor_min");
  if (!rmin) return rmin.status();
  auto rmax = r.int32("replication_factor_max");
  if (!rmax) return rmax.status();
  p.replication_factor_min = *rmin;
  p.replication_factor_max = *rmax;
  TRELLIS_TRY(read_strings(r, p.allocations, "allocations"));
  TRELLIS_TRY(read_strings(r, p.user_allocations, "user_allocations"));
  auto expire = r.integer("expire_at");
  if (!expire) return expire.status();
  p.expire_at = *expire;
  auto entries = r.map("pin metadata");
  if (!entries) return entries.status();
  if (*entries > kMaxMetadataEntries)
    return corrupt("pin metadata has " + std::to_string(*entries) + " entries; at most " +
                   std::to_string(kMaxMetadataEntries) + " are allowed");
  p.metadata.clear();
  for (uint32_t i = 0; i < *entries; i++) {
    auto k = r.str("metadata key");
    if (!k) return k.status();
    auto v = r.str("metadata value");
    if (!v) return v.status();
    if (!p.metadata.emplace(std::string(*k), std::string(*v)).second)
      return corrupt("pin metadata repeats key \"" + std::string(*k) + "\"");
  }
  TRELLIS_TRY(read_opt_cid(r, p.pin_update, "pin_update"));
  TRELLIS_TRY(read_strings(r, p.origins, "origins"));
  auto depth = r.int32("max_depth");
  if (!depth) return depth.status();
  p.max_depth = *depth;
  TRELLIS_TRY(read_opt_cid(r, p.reference, "reference"));
  auto ts = r.integer("timestamp");
  if (!ts) return ts.status();
  p.timestamp = *ts;
  if (r.left() != 0)
    return corrupt("pin has " + std::to_string(r.left()) + " trailing bytes");
  Status st = validate(p);
  if (!st) return corrupt("stored pin is invalid: " + st.message());
  return Status::ok();
}

Bytes encode_pin(const Pin& p) {
  msgpack::sbuffer buf;
  pack::Packer pk(buf);
  pk.pack_array(kFields);
  pk.pack_uint64(kPinVersion);
  pack::bin(pk, p.cid.view());
  pk.pack_uint8(static_cast<uint8_t>(p.type));
  pack::str(pk, p.name);
  pk.pack_uint8(static_cast<uint8_t>(p.mode));
  pk.pack_int32(p.replication_factor_min);
  pk.pack_int32(p.replication_factor_max);
  pack_strings(pk, p.allocations);
  pack_strings(pk, p.user_allocations);
  pk.pack_int64(p.expire_at);
  pk.pack_map(static_cast<uint32_t>(p.metadata.size()));
  for (const auto& [k, v] : p.metadata) {  // std::map: sorted, so deterministic
    pack::str(pk, k);
    pack::str(pk, v);
  }
  pack_opt_cid(pk, p.pin_update);
  pack_strings(pk, p.origins);
  pk.pack_int32(p.max_depth);
  pack_opt_cid(pk, p.reference);
  pk.pack_int64(p.timestamp);
  return pack::to_bytes(buf);
}

Result<Pin> decode_pin(ByteView bytes) {
  Pin p;
  TRELLIS_TRY(decode_pin_into(bytes, p));
  return p;
}

}  // namespace trellis::pinning
