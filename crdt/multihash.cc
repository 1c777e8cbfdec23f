#include "crdt/multihash.h"

#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "crdt/sha256.h"
#include "crdt/varint.h"

namespace trellis {
namespace {

// Longest digest accepted for any hash code (sha2-512 and blake2b-512 fit).
constexpr size_t kMaxDigest = 64;

std::string hash_name(uint64_t code) {
  switch (code) {
    case kHashIdentity:
      return "identity";
    case kHashSha256:
      return "sha2-256";
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "hash 0x%llx", static_cast<unsigned long long>(code));
  return buf;
}

}  // namespace

Multihash Multihash::sha256(ByteView data) {
  Multihash mh;
  mh.code = kHashSha256;
  mh.digest.resize(kSha256Bytes);
  trellis::sha256(data, mh.digest.data());
  return mh;
}

Multihash Multihash::identity(ByteView data) {
  // Longer inputs would build a multihash that decode() refuses.
  assert(data.size() <= kMaxIdentityDigest);
  return Multihash{kHashIdentity, Bytes(data.begin(), data.end())};
}

Result<Multihash> Multihash::read_prefix(ByteView bytes, size_t* used) {
  if (bytes.empty()) return corrupt("multihash is empty");
  size_t n1 = 0, n2 = 0;
  auto code = read_uvarint(bytes, &n1);
  if (!code) return corrupt("multihash code: " + code.status().message());
  auto len = read_uvarint(bytes.subspan(n1), &n2);
  if (!len) return corrupt("multihash length: " + len.status().message());
  const uint64_t want = *len;
  if (*code == kHashSha256 && want != kSha256Bytes) {
    return corrupt("multihash digest length " + std::to_string(want) +
                   " does not match sha2-256's 32");
  }
  if (*code == kHashIdentity && want > kMaxIdentityDigest) {
    return too_large("identity multihash of " + std::to_string(want) +
                     " bytes exceeds the limit of " + std::to_string(kMaxIdentityDigest));
  }
  if (want > kMaxDigest) {
    return too_large("multihash digest length " + std::to_string(want) + " of " + hash_name(*code) +
                     " exceeds the limit of " + std::to_string(kMaxDigest));
  }
  const size_t start = n1 + n2;
  const size_t have = bytes.size() - start;
  if (have < want) {
    return corrupt(hash_name(*code) + " multihash is truncated: digest needs " +
                   std::to_string(want) + " bytes, " + std::to_string(have) + " remain");
  }
  const auto d = bytes.subspan(start, static_cast<size_t>(want));
  if (used) *used = start + d.size();
  return Multihash{*code, Bytes(d.begin(), d.end())};
}

Result<Multihash> Multihash::decode(ByteView bytes) {
  size_t used = 0;
  auto mh = read_prefix(bytes, &used);
  if (mh && used != bytes.size()) {
    return corrupt("multihash has " + std::to_string(bytes.size() - used) + " trailing bytes");
  }
  return mh;
}

Bytes Multihash::encode() const {
  Bytes out;
  out.reserve(uvarint_size(code) + uvarint_size(digest.size()) + digest.size());
  append_to(out);
  return out;
}

void Multihash::append_to(Bytes& out) const {
  put_uvarint(out, code);
  put_uvarint(out, digest.size());
  out.insert(out.end(), digest.begin(), digest.end());
}

}  // namespace trellis
