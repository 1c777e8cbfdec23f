// Small msgpack helpers shared by every wire codec (crdt blocks, net frames,
// pubsub messages): packing bin/str, and bounded, non-throwing decoding of
// untrusted bytes into borrowed views.
#pragma once

#include <msgpack.hpp>

#include <string>
#include <string_view>

#include "crdt/bytes.h"
#include "crdt/status.h"

namespace trellis::pack {

using Packer = msgpack::packer<msgpack::sbuffer>;

void bin(Packer& pk, ByteView b);
void str(Packer& pk, std::string_view s);
inline Bytes to_bytes(const msgpack::sbuffer& buf) {
  const auto* p = reinterpret_cast<const uint8_t*>(buf.data());
  return Bytes(p, p + buf.size());
}

// Parses exactly one msgpack object spanning all of `bytes` and calls
// fn(root) with it; strings and bins in the object point into `bytes`.
// `limit` bounds counts, sizes and depth; `what` names the thing in errors
// ("frame is truncated"). Parser exceptions become corrupt Statuses.
template <class Fn>
auto decode(ByteView bytes, const msgpack::unpack_limit& limit, const char* what, Fn&& fn)
    -> decltype(fn(std::declval<const msgpack::object&>()));

// Accessors that fail with a corrupt Status naming `what`.
Result<const msgpack::object_array*> array(const msgpack::object& o, const char* what,
                                           size_t exact = 0);
Result<ByteView> as_bin(const msgpack::object& o, const char* what);
Result<std::string_view> as_str(const msgpack::object& o, const char* what);
Result<uint64_t> as_uint(const msgpack::object& o, const char* what);

// ---- implementation ----
bool reference_all(msgpack::type::object_type, std::size_t, void*);

template <class Fn>
auto decode(ByteView bytes, const msgpack::unpack_limit& limit, const char* what, Fn&& fn)
    -> decltype(fn(std::declval<const msgpack::object&>())) {
  try {
    std::size_t off = 0;
    msgpack::object_handle oh = msgpack::unpack(reinterpret_cast<const char*>(bytes.data()),
                                                bytes.size(), off, reference_all, nullptr, limit);
    if (off != bytes.size())
      return corrupt(std::string(what) + " has " + std::to_string(bytes.size() - off) +
                     " trailing bytes");
    return fn(oh.get());
  } catch (const msgpack::insufficient_bytes&) {
    return corrupt(std::string(what) + " is truncated");
  } catch (const std::exception& e) {
    return corrupt(std::string(what) + " is not valid msgpack: " + e.what());
  }
}

}  // namespace trellis::pack
