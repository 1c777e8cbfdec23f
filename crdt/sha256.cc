#include "crdt/sha256.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <memory>

namespace trellis {

namespace {

// Fetched once: an implicit fetch per call costs more than hashing 1 KiB.
const EVP_MD* sha256_md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

struct CtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

}  // namespace

void sha256(ByteView data, uint8_t out[kSha256Bytes]) {
  thread_local std::unique_ptr<EVP_MD_CTX, CtxFree> ctx(EVP_MD_CTX_new());
  unsigned len = 0;
  // Failures here mean no memory or a broken libcrypto: nothing to recover.
  if (!sha256_md() || !ctx || EVP_DigestInit_ex(ctx.get(), sha256_md(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), out, &len) != 1 || len != kSha256Bytes)
    std::abort();
}

}  // namespace trellis
