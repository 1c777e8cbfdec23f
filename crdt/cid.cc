#include "crdt/cid.h"

#include <cstdio>
#include <cstring>
#include <functional>

#include "crdt/multibase.h"
#include "crdt/varint.h"

namespace trellis {
namespace {

constexpr size_t kV0Bytes = 34;  // 0x12 0x20 ‖ 32-byte sha2-256 digest

std::string hex_code(uint64_t code) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(code));
  return buf;
}

std::string codec_name(uint64_t codec) {
  switch (codec) {
    case kCodecRaw:
      return "raw";
    case kCodecDagPb:
      return "dag-pb";
    case kCodecDagCbor:
      return "dag-cbor";
    case kCodecMessagePack:
      return "messagepack";
  }
  return "codec " + hex_code(codec);
}

bool is_v0_multihash(ByteView b) {
  return b.size() == kV0Bytes && b[0] == kHashSha256 && b[1] == 32;
}

// Text parsing reports bad input as invalid_argument, whatever layer found it.
Status as_text_error(const Status& s) {
  if (s.code() == Code::corrupt) return invalid(s.message());
  return s;
}

}  // namespace

Result<Cid> Cid::read_prefix(ByteView bytes, size_t* used) {
  if (bytes.empty()) return corrupt("CID bytes are empty");
  if (bytes[0] == kHashSha256) {
    // CIDv0: a bare sha2-256 multihash. 0x12 can never start a CIDv1, whose
    // first byte is its version.
    if (bytes.size() >= 2 && bytes[1] != 32) {
      return corrupt("binary CID starting 0x12 must be a CIDv0 (0x12 0x20 then a 32-byte digest)");
    }
    if (bytes.size() < kV0Bytes) {
      return corrupt("CIDv0 is truncated: " + std::to_string(bytes.size()) + " of 34 bytes");
    }
    Cid c;
    c.version_ = 0;
    c.codec_ = kCodecDagPb;
    c.hash_.code = kHashSha256;
    c.hash_.digest.assign(bytes.begin() + 2, bytes.begin() + kV0Bytes);
    c.bytes_.assign(bytes.begin(), bytes.begin() + kV0Bytes);
    if (used) *used = kV0Bytes;
    return c;
  }
  size_t n_version = 0, n_codec = 0, n_hash = 0;
  auto version = read_uvarint(bytes, &n_version);
  if (!version) return corrupt("CID version: " + version.status().message());
  if (*version != 1) {
    if (*version == 2 || *version == 3) {
      return Status(Code::unsupported, "CID version " + std::to_string(*version) + " is reserved");
    }
    return corrupt("CID version " + std::to_string(*version) +
                   " is invalid (a binary CID is a CIDv1 or a bare sha2-256 multihash)");
  }
  auto codec = read_uvarint(bytes.subspan(n_version), &n_codec);
  if (!codec) return corrupt("CIDv1 codec: " + codec.status().message());
  auto hash = Multihash::read_prefix(bytes.subspan(n_version + n_codec), &n_hash);
  if (!hash) return Status(hash.status().code(), "CIDv1: " + hash.status().message());
  const size_t total = n_version + n_codec + n_hash;
  Cid c;
  c.version_ = 1;
  c.codec_ = *codec;
  c.hash_ = std::move(hash).value();
  c.bytes_.assign(bytes.begin(), bytes.begin() + total);
  if (used) *used = total;
  return c;
}

Result<Cid> Cid::from_bytes(ByteView bytes) {
  if (bytes.size() > kMaxCidBytes) {
    return too_large("binary CID of " + std::to_string(bytes.size()) +
                     " bytes exceeds the limit of " + std::to_string(kMaxCidBytes));
  }
  size_t used = 0;
  auto c = read_prefix(bytes, &used);
  if (c && used != bytes.size()) {
    const std::string extra = std::to_string(bytes.size() - used);
    if (c->version_ == 0)
      return corrupt("CIDv0 has " + extra + " trailing bytes (want exactly 34)");
    return corrupt("CIDv1 has " + extra + " trailing bytes");
  }
  return c;
}

Result<Cid> Cid::parse(std::string_view text) {
  if (text.empty()) return invalid("CID text is empty");
  if (text.size() > kMaxMultibaseText) {
    return too_large("CID text of " + std::to_string(text.size()) +
                     " characters exceeds the limit of " + std::to_string(kMaxMultibaseText));
  }
  if (text.size() >= 2 && text[0] == 'Q' && text[1] == 'm') {
    if (text.size() != 46) {
      return invalid("CIDv0 text must be 46 characters, got " + std::to_string(text.size()));
    }
    auto raw = base58_decode(text);
    if (!raw) return as_text_error(raw.status());
    if (!is_v0_multihash(*raw)) {
      return invalid("CIDv0 text does not decode to a sha2-256 multihash (0x12 0x20 + 32 bytes)");
    }
    auto c = from_bytes(*raw);
    if (!c) return as_text_error(c.status());
    return c;
  }
  const char p = text[0];
  if (p != 'b' && p != 'B' && p != 'z') {
    const auto u = static_cast<unsigned char>(p);
    const std::string got =
        (u > 0x20 && u < 0x7f) ? std::string("'") + p + "'" : "byte " + hex_code(u);
    return invalid(
        "CID text must start with \"Qm\" (CIDv0) or a multibase prefix 'b', 'B' or "
        "'z' (CIDv1), not " +
        got);
  }
  auto raw = multibase_decode(text);
  if (!raw) return as_text_error(raw.status());
  if (raw->empty()) return invalid("CID text has nothing after its multibase prefix");
  if ((*raw)[0] == kHashSha256) {
    return invalid("CIDv0 must not be multibase-encoded; write it as bare base58btc \"Qm...\"");
  }
  auto c = from_bytes(*raw);
  if (!c) return as_text_error(c.status());
  return c;
}

Cid Cid::v1(uint64_t codec, Multihash hash) {
  Cid c;
  c.version_ = 1;
  c.codec_ = codec;
  c.bytes_.reserve(1 + uvarint_size(codec) + uvarint_size(hash.code) +
                   uvarint_size(hash.digest.size()) + hash.digest.size());
  c.bytes_.push_back(1);
  put_uvarint(c.bytes_, codec);
  hash.append_to(c.bytes_);
  c.hash_ = std::move(hash);
  return c;
}

Cid Cid::sha256(uint64_t codec, ByteView data) {
  return v1(codec, Multihash::sha256(data));
}

std::string Cid::to_string() const {
  std::string out;
  append_to(out);
  return out;
}

void Cid::append_to(std::string& out) const {
  if (bytes_.empty()) return;
  if (version_ == 0) {
    out += base58_encode(bytes_);
    return;
  }
  out += 'b';
  base32_append(bytes_, out);
}

std::string Cid::to_base58() const {
  if (bytes_.empty()) return {};
  if (version_ == 0) return base58_encode(bytes_);
  return multibase_encode('z', bytes_);
}

Cid Cid::to_v1() const {
  if (version_ == 1 || bytes_.empty()) return *this;
  return v1(codec_, hash_);
}

Result<Cid> Cid::to_v0() const {
  if (bytes_.empty()) return invalid("an empty CID has no CIDv0 form");
  if (version_ == 0) return *this;
  if (codec_ != kCodecDagPb || hash_.code != kHashSha256 || hash_.digest.size() != 32) {
    return invalid("CIDv0 can only name dag-pb over sha2-256; this CID is " + codec_name(codec_) +
                   " over hash " + hex_code(hash_.code));
  }
  Cid c;
  c.version_ = 0;
  c.codec_ = kCodecDagPb;
  c.hash_ = hash_;
  c.bytes_ = hash_.encode();
  return c;
}

size_t CidHash::operator()(const Cid& c) const {
  // A sha2-256 digest is already uniformly distributed: its last 8 bytes
  // (the end of bytes()) make a good hash for free. Anything else, e.g. a
  // short identity digest, goes through std::hash.
  const Bytes& b = c.bytes();
  if (c.hash().code == kHashSha256 && c.hash().digest.size() == 32) {
    uint64_t h;
    std::memcpy(&h, b.data() + b.size() - sizeof h, sizeof h);
    return static_cast<size_t>(h);
  }
  return std::hash<std::string_view>{}(as_chars(b));
}

}  // namespace trellis
