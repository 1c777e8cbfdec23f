// Fuzz target: every decoder a connected peer can reach after the
// handshake. The first byte picks one:
//   0: a wire message (net/wire.h) — whatever decodes must round-trip
//   1: a sequence of mux chunks (2-byte length prefixes) into one receiver
//   2: a block list, 3: a CID list, 4: a sub-DAG request, 5: a peer exchange
#include <cstdlib>

#include "net/exchange.h"
#include "net/mux.h"
#include "net/wire.h"

using namespace trellis;
using namespace trellis::net;

namespace {

void chunks(ByteView in) {
  MuxReceiver rx(64 << 10);  // small, so the bound is reached often
  while (in.size() >= 2) {
    size_t n = std::min<size_t>(size_t{in[0]} << 8 | in[1], in.size() - 2);
    auto r = rx.on_chunk(in.subspan(2, n));
    if (!r) return;  // the connection would close here
    if (*r && (*r)->message.size() > (64 << 10)) std::abort();
    in = in.subspan(2 + n);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  ByteView in(data + 1, size - 1);
  switch (data[0] % 6) {
    case 0: {
      auto m = decode(in);
      if (m) {
        auto back = decode(encode(*m));
        if (!back || !(*back == *m)) std::abort();
      }
      break;
    }
    case 1: chunks(in); break;
    case 2: {
      auto b = decode_blocks(in);
      if (b && b->size() > kMaxBlocksPerItem) std::abort();
      break;
    }
    case 3: (void)decode_cids(in, kMaxGetCids); break;
    case 4: {
      auto r = decode_subdag_request(in);
      if (r && (r->roots.size() > kMaxRoots || r->haves.size() > kMaxHaves)) std::abort();
      break;
    }
    case 5: {
      auto e = decode_exchange(in, 64, 8);
      if (e && e->size() > 64) std::abort();
      break;
    }
  }
  return 0;
}
