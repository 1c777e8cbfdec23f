// A CID for test content: raw codec, SHA-256 of `s`.
#pragma once

#include <string_view>

#include "crdt/cid.h"

namespace trellis::testing {

inline Cid content(std::string_view s) {
  return Cid::sha256(kCodecRaw, ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}

}  // namespace trellis::testing
