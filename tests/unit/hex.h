// Hex text to bytes, for test fixtures (the input is trusted: even length,
// hex digits only).
#pragma once

#include <string>
#include <string_view>

#include "crdt/bytes.h"

namespace trellis::testing {

inline Bytes from_hex(std::string_view hex) {
  Bytes out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

}  // namespace trellis::testing
