// Feeds arbitrary bytes to every multiformats decoder. Besides "never
// crash", it checks that whatever decodes re-encodes to the very same input:
// each accepted spelling must be the canonical one.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "crdt/cid.h"
#include "crdt/multibase.h"
#include "crdt/multihash.h"
#include "crdt/varint.h"

using namespace trellis;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteView bytes(data, size);
  const std::string_view text = as_chars(bytes);

  if (auto c = Cid::parse(text)) {
    if (c->version() == 0) {
      require(c->to_string() == text);
    } else if (text[0] == 'b') {
      require(c->to_string() == text);
    } else if (text[0] == 'z') {
      require(c->to_base58() == text);
    }
    auto again = Cid::parse(c->to_string());
    require(again && *again == *c);
    require(c->to_v1().version() == 1);
    if (auto v0 = c->to_v1().to_v0()) require(v0->hash() == c->hash());
  }

  if (auto c = Cid::from_bytes(bytes)) {
    require(c->view().size() == size && std::equal(bytes.begin(), bytes.end(), c->view().begin()));
    auto again = Cid::parse(c->to_string());
    require(again && *again == *c);
  }
  size_t used = 0;
  if (auto c = Cid::read_prefix(bytes, &used)) require(used <= size && c->bytes().size() == used);

  if (auto mh = Multihash::decode(bytes))
    require(mh->encode() == Bytes(bytes.begin(), bytes.end()));

  if (auto d = multibase_decode(text)) {
    if (text[0] == 'b' || text[0] == 'z') require(multibase_encode(text[0], *d) == text);
  }
  if (size <= kMaxMultibaseText) {
    if (auto d = base58_decode(text)) require(base58_encode(*d) == text);
  }
  (void)base32_decode(text);

  if (auto v = read_uvarint(bytes, &used)) {
    require(used >= 1 && used <= kMaxVarintBytes && uvarint_size(*v) == used);
  }
  return 0;
}
