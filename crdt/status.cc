#include "crdt/status.h"

namespace trellis {

const char* code_name(Code c) {
  switch (c) {
    case Code::ok: return "ok";
    case Code::invalid_argument: return "invalid argument";
    case Code::corrupt: return "corrupt";
    case Code::not_found: return "not found";
    case Code::too_large: return "too large";
    case Code::io_error: return "i/o error";
    case Code::busy: return "busy";
    case Code::unsupported: return "unsupported";
    case Code::denied: return "denied";
    case Code::unavailable: return "unavailable";
  }
  return "unknown";
}

std::string Status::to_string() const {
  if (is_ok()) return "ok";
  return std::string(code_name(code_)) + ": " + message_;
}

}  // namespace trellis
