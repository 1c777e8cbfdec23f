#include "net/identity.h"

#include "crdt/files.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

#include "crdt/cid.h"
#include "crdt/multibase.h"
#include "crdt/multihash.h"
#include "crdt/varint.h"

namespace trellis::net {
namespace {

void ensure_sodium() {
  static const bool ready = sodium_init() >= 0;
  if (!ready) std::abort();
}

// libp2p crypto.proto: KeyType enum and the two protobuf field tags
// (field 1 varint "Type", field 2 bytes "Data").
constexpr uint8_t kTagType = 0x08;
constexpr uint8_t kTagData = 0x12;
constexpr uint8_t kKeyEd25519 = 1;
constexpr uint64_t kCodecLibp2pKey = 0x72;
// 00 24 08 01 12 20: identity multihash of 36 bytes holding {Type: 1, Data: 32 bytes}.
constexpr uint8_t kPeerIdPrefix[] = {0x00, 0x24, kTagType, kKeyEd25519, kTagData, 0x20};
// The protobuf private key: {Type: 1, Data: 64 bytes (seed ‖ public key)}.
constexpr uint8_t kPrivateKeyPrefix[] = {kTagType, kKeyEd25519, kTagData, 0x40};
// An identity file is a few hundred bytes; anything much larger is not one.
constexpr off_t kMaxIdentityFile = 64 * 1024;

const char* key_type_name(uint64_t t) {
  switch (t) {
    case 0:
      return "RSA";
    case 1:
      return "Ed25519";
    case 2:
      return "Secp256k1";
    case 3:
      return "ECDSA";
  }
  return "unknown";
}

std::string errno_text() {
  return std::strerror(errno);
}

}  // namespace

// --- PeerId ----------------------------------------------------------------

PeerId PeerId::from_public_key(const PublicKey& key) {
  PeerId p;
  p.set_ = true;
  p.key_ = key;
  return p;
}

Bytes PeerId::bytes() const {
  if (!set_) return {};
  Bytes out(std::begin(kPeerIdPrefix), std::end(kPeerIdPrefix));
  out.insert(out.end(), key_.begin(), key_.end());
  return out;
}

std::string PeerId::to_string() const {
  return set_ ? base58_encode(bytes()) : std::string();
}

Result<PeerId> PeerId::from_bytes(ByteView bytes) {
  auto mh = Multihash::decode(bytes);
  if (!mh) return corrupt("peer ID is not a multihash: " + mh.status().message());
  if (mh->code == kHashSha256) {
    return Status(Code::unsupported,
                  "peer ID is a sha2-256 multihash (an RSA or other large key); only Ed25519 "
                  "peer IDs (identity multihash, \"12D3KooW…\") are supported");
  }
  if (mh->code != kHashIdentity) {
    char code[24];
    std::snprintf(code, sizeof code, "0x%llx", static_cast<unsigned long long>(mh->code));
    return corrupt(std::string("peer ID multihash must be identity (0x00), not hash ") + code);
  }
  // The digest is the protobuf PublicKey; libp2p requires the deterministic
  // encoding, so the Ed25519 form is exactly 08 01 12 20 <32 bytes>.
  const ByteView pb = mh->digest;
  if (pb.empty() || pb[0] != kTagType) return corrupt("peer ID key: protobuf Type field missing");
  size_t used = 0;
  auto type = read_uvarint(pb.subspan(1), &used);
  if (!type) return corrupt("peer ID key type: " + type.status().message());
  if (*type != kKeyEd25519) {
    return Status(Code::unsupported, std::string("peer ID has a ") + key_type_name(*type) +
                                         " key (type " + std::to_string(*type) +
                                         "); only Ed25519 keys are supported");
  }
  if (pb.size() != 4 + kPublicKeyBytes || pb[2] != kTagData || pb[3] != kPublicKeyBytes) {
    return corrupt("peer ID key: expected a 32-byte Ed25519 key encoded as 08 01 12 20 <key>");
  }
  PublicKey key;
  std::memcpy(key.data(), pb.data() + 4, key.size());
  return from_public_key(key);
}

Result<PeerId> PeerId::parse(std::string_view text) {
  if (text.empty()) return invalid("peer ID is empty");
  // Legacy form (libp2p peer-id spec): a bare base58btc multihash starts
  // '1' (identity) or "Qm" (sha2-256); anything else is a multibase CID.
  if (text[0] == '1' || text[0] == 'Q') {
    auto raw = base58_decode(text);
    if (!raw) return invalid("peer ID \"" + std::string(text) + "\": " + raw.status().message());
    auto id = from_bytes(*raw);
    if (!id && id.status().code() != Code::unsupported) {
      return invalid("peer ID \"" + std::string(text) + "\": " + id.status().message());
    }
    return id;
  }
  auto cid = Cid::parse(text);
  if (!cid) {
    return invalid(
        "peer ID \"" + std::string(text) +
        "\" is neither a base58 peer ID (12D3KooW…) nor a CID: " + cid.status().message());
  }
  if (cid->version() != 1 || cid->codec() != kCodecLibp2pKey) {
    return invalid("peer ID \"" + std::string(text) +
                   "\" is a CID but not a libp2p-key (0x72) one");
  }
  auto id = from_bytes(cid->hash().encode());
  if (!id && id.status().code() != Code::unsupported) {
    return invalid("peer ID \"" + std::string(text) + "\": " + id.status().message());
  }
  return id;
}

bool verify(const PeerId& signer, ByteView message, ByteView signature) {
  ensure_sodium();
  if (signer.is_empty() || signature.size() != kSignatureBytes) return false;
  return crypto_sign_ed25519_verify_detached(signature.data(), message.data(), message.size(),
                                             signer.public_key().data()) == 0;
}

// --- Identity --------------------------------------------------------------

Identity Identity::generate() {
  ensure_sodium();
  std::array<uint8_t, 32> seed;
  randombytes_buf(seed.data(), seed.size());
  Identity id = from_seed(seed);
  sodium_memzero(seed.data(), seed.size());
  return id;
}

Identity Identity::from_seed(ByteView seed32) {
  ensure_sodium();
  assert(seed32.size() == crypto_sign_ed25519_SEEDBYTES);  // a programming error otherwise
  Identity id;
  PublicKey pk;
  crypto_sign_ed25519_seed_keypair(pk.data(), id.secret_.data(), seed32.data());
  id.id_ = PeerId::from_public_key(pk);
  return id;
}

Signature Identity::sign(ByteView message) const {
  Signature sig;
  crypto_sign_ed25519_detached(sig.data(), nullptr, message.data(), message.size(), secret_.data());
  return sig;
}

Status Identity::save(const std::string& path) const {
  Bytes pb(std::begin(kPrivateKeyPrefix), std::end(kPrivateKeyPrefix));
  pb.insert(pb.end(), secret_.begin(), secret_.end());
  std::string b64(sodium_base64_ENCODED_LEN(pb.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(b64.data(), b64.size(), pb.data(), pb.size(), sodium_base64_VARIANT_ORIGINAL);
  b64.resize(std::strlen(b64.c_str()));
  sodium_memzero(pb.data(), pb.size());
  const nlohmann::json doc = {{"id", id_.to_string()}, {"private_key", b64}};
  const std::string text = doc.dump(2) + "\n";
  sodium_memzero(b64.data(), b64.size());

  return write_file_atomic(path, text, 0600);
}

Result<Identity> Identity::load(const std::string& path) {
  ensure_sodium();
  const std::string where = "identity file " + path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const Code c = errno == ENOENT ? Code::not_found : Code::io_error;
    return Status(c, "cannot open " + where + ": " + errno_text());
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    Status s(Code::io_error, "cannot stat " + where + ": " + errno_text());
    ::close(fd);
    return s;
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return invalid(where + " is not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return invalid(where + " has mode " + mode +
                   ": it holds a private key and must not be accessible to other users; run "
                   "chmod 600 " +
                   path);
  }
  if (st.st_size > kMaxIdentityFile) {
    ::close(fd);
    return too_large(where + " is " + std::to_string(st.st_size) +
                     " bytes; an identity file is "
                     "well under " +
                     std::to_string(kMaxIdentityFile));
  }
  std::string text(static_cast<size_t>(st.st_size), '\0');
  size_t off = 0;
  while (off < text.size()) {
    const ssize_t n = ::read(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status s(Code::io_error, "cannot read " + where + ": " + errno_text());
      ::close(fd);
      return s;
    }
    if (n == 0) break;
    off += static_cast<size_t>(n);
  }
  ::close(fd);
  text.resize(off);

  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    sodium_memzero(text.data(), text.size());
    return corrupt(where + " is not valid JSON: " + e.what());
  }
  sodium_memzero(text.data(), text.size());
  if (!doc.is_object()) return corrupt(where + ": expected a JSON object");
  const auto id_it = doc.find("id");
  const auto key_it = doc.find("private_key");
  if (id_it == doc.end() || !id_it->is_string()) {
    return corrupt(where + ": missing string field \"id\"");
  }
  if (key_it == doc.end() || !key_it->is_string()) {
    return corrupt(where + ": missing string field \"private_key\"");
  }
  const std::string& b64 = key_it->get_ref<const std::string&>();
  std::array<uint8_t, 4 + 64> pb{};
  size_t pb_len = 0;
  if (sodium_base642bin(pb.data(), pb.size(), b64.data(), b64.size(), nullptr, &pb_len, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      pb_len != pb.size()) {
    return corrupt(where + ": \"private_key\" is not base64 of a 68-byte Ed25519 private key");
  }
  if (std::memcmp(pb.data(), kPrivateKeyPrefix, sizeof kPrivateKeyPrefix) != 0) {
    return Status(Code::unsupported,
                  where +
                      ": \"private_key\" is not an Ed25519 key (expected protobuf prefix "
                      "08 01 12 40); only Ed25519 identities are supported");
  }
  Identity ident = from_seed(ByteView(pb.data() + 4, 32));
  const bool halves_match = std::memcmp(ident.secret_.data() + 32, pb.data() + 36, 32) == 0;
  sodium_memzero(pb.data(), pb.size());
  if (!halves_match) {
    return corrupt(where + ": the private key's public half does not match its seed");
  }
  const std::string& id_text = id_it->get_ref<const std::string&>();
  auto id = PeerId::parse(id_text);
  if (!id) return corrupt(where + ": \"id\": " + id.status().message());
  if (*id != ident.id()) {
    return corrupt(where + ": id " + id_text +
                   " does not match the private key, which belongs to " + ident.id().to_string());
  }
  return ident;
}

// --- ClusterSecret ---------------------------------------------------------

ClusterSecret ClusterSecret::generate() {
  ensure_sodium();
  ClusterSecret s;
  randombytes_buf(s.bytes.data(), s.bytes.size());
  return s;
}

Result<ClusterSecret> ClusterSecret::parse_hex(std::string_view hex) {
  if (hex.size() != 2 * kSecretBytes) {
    return invalid("cluster secret must be 64 hex characters (32 bytes), got " +
                   std::to_string(hex.size()) + " characters");
  }
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  ClusterSecret s;
  for (size_t i = 0; i < kSecretBytes; ++i) {
    const int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      const size_t bad = hi < 0 ? 2 * i : 2 * i + 1;
      return invalid("cluster secret must be hex: character " + std::to_string(bad) +
                     " is not 0-9 or a-f");
    }
    s.bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return s;
}

std::string ClusterSecret::to_hex() const {
  return trellis::to_hex(bytes);
}

}  // namespace trellis::net
