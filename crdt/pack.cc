#include "crdt/pack.h"

namespace trellis::pack {

void bin(Packer& pk, ByteView b) {
  pk.pack_bin(static_cast<uint32_t>(b.size()));
  pk.pack_bin_body(reinterpret_cast<const char*>(b.data()), static_cast<uint32_t>(b.size()));
}

void str(Packer& pk, std::string_view s) {
  pk.pack_str(static_cast<uint32_t>(s.size()));
  pk.pack_str_body(s.data(), static_cast<uint32_t>(s.size()));
}

bool reference_all(msgpack::type::object_type, std::size_t, void*) { return true; }

Result<const msgpack::object_array*> array(const msgpack::object& o, const char* what,
                                           size_t exact) {
  if (o.type != msgpack::type::ARRAY) return corrupt(std::string(what) + " is not an array");
  if (exact && o.via.array.size != exact)
    return corrupt(std::string(what) + " has " + std::to_string(o.via.array.size) +
                   " fields, expected " + std::to_string(exact));
  return &o.via.array;
}

Result<ByteView> as_bin(const msgpack::object& o, const char* what) {
  if (o.type != msgpack::type::BIN) return corrupt(std::string(what) + " is not binary");
  return ByteView(reinterpret_cast<const uint8_t*>(o.via.bin.ptr), o.via.bin.size);
}

Result<std::string_view> as_str(const msgpack::object& o, const char* what) {
  if (o.type != msgpack::type::STR) return corrupt(std::string(what) + " is not a string");
  return std::string_view(o.via.str.ptr, o.via.str.size);
}

Result<uint64_t> as_uint(const msgpack::object& o, const char* what) {
  if (o.type != msgpack::type::POSITIVE_INTEGER)
    return corrupt(std::string(what) + " is not a non-negative integer");
  return o.via.u64;
}

}  // namespace trellis::pack
