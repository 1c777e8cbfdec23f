#include "crdt/block.h"

#include "crdt/pack.h"

#include <algorithm>
#include <exception>

namespace trellis {

namespace {

using pack::array;
using pack::as_bin;

Result<std::string> as_key(const msgpack::object& o) {
  if (o.type != msgpack::type::STR) return corrupt("key is not a string");
  std::string key(o.via.str.ptr, o.via.str.size);
  Status st = check_key(key);
  if (!st) return corrupt(st.message());
  return key;
}

Result<Cid> as_block_cid(const msgpack::object& o, const char* what) {
  auto b = as_bin(o, what);
  if (!b) return b.status();
  auto cid = Cid::from_bytes(*b);
  if (!cid) return corrupt(std::string(what) + ": " + cid.status().message());
  if (cid->version() != 1 || cid->codec() != kCodecMessagePack || cid->hash().code != kHashSha256)
    return corrupt(std::string(what) + " " + cid->to_string() +
                   " is not a Trellis block CID (CIDv1, messagepack, sha2-256)");
  return cid;
}

Result<Block> decode_object(const msgpack::object& root) {
  auto top = array(root, "block");
  if (!top) return top.status();
  const auto& f = **top;
  if (f.size == 0 || f.ptr[0].type != msgpack::type::POSITIVE_INTEGER)
    return corrupt("block does not start with a version number");
  if (f.ptr[0].via.u64 != kBlockVersion)
    return Status(Code::unsupported, "block version " + std::to_string(f.ptr[0].via.u64) +
                                         " is not supported (this build reads version 1)");
  if (f.size != 5) return corrupt("block has " + std::to_string(f.size) + " fields, expected 5");

  Block b;
  auto links = array(f.ptr[1], "links");
  if (!links) return links.status();
  if ((*links)->size > kMaxLinks)
    return too_large("block has " + std::to_string((*links)->size) + " links, limit " +
                     std::to_string(kMaxLinks));
  b.links.reserve((*links)->size);
  for (uint32_t i = 0; i < (*links)->size; ++i) {
    auto cid = as_block_cid((*links)->ptr[i], "link");
    if (!cid) return cid.status();
    if (!b.links.empty() && !(b.links.back() < *cid))
      return corrupt("links are not strictly increasing");
    b.links.push_back(std::move(*cid));
  }

  if (f.ptr[2].type != msgpack::type::POSITIVE_INTEGER || f.ptr[2].via.u64 == 0)
    return corrupt("priority is not a positive integer");
  b.delta.priority = f.ptr[2].via.u64;

  auto elems = array(f.ptr[3], "elements");
  if (!elems) return elems.status();
  auto tombs = array(f.ptr[4], "tombstones");
  if (!tombs) return tombs.status();
  if (size_t{(*elems)->size} + (*tombs)->size > kMaxEntries)
    return too_large("block has more than " + std::to_string(kMaxEntries) + " entries");

  b.delta.elements.reserve((*elems)->size);
  for (uint32_t i = 0; i < (*elems)->size; ++i) {
    auto pair = array((*elems)->ptr[i], "element", 2);
    if (!pair) return pair.status();
    auto key = as_key((*pair)->ptr[0]);
    if (!key) return key.status();
    auto value = as_bin((*pair)->ptr[1], "value");
    if (!value) return value.status();
    if (value->size() > kMaxValueBytes) return too_large("value of " + *key + " is too large");
    if (!b.delta.elements.empty() && !(b.delta.elements.back().key < *key))
      return corrupt("elements are not strictly increasing by key");
    b.delta.elements.push_back({std::move(*key), Bytes(value->begin(), value->end())});
  }

  b.delta.tombstones.reserve((*tombs)->size);
  for (uint32_t i = 0; i < (*tombs)->size; ++i) {
    auto pair = array((*tombs)->ptr[i], "tombstone", 2);
    if (!pair) return pair.status();
    auto key = as_key((*pair)->ptr[0]);
    if (!key) return key.status();
    auto id = as_block_cid((*pair)->ptr[1], "tombstone id");
    if (!id) return id.status();
    Tombstone t{std::move(*key), std::move(*id)};
    if (!b.delta.tombstones.empty()) {
      const auto& prev = b.delta.tombstones.back();
      if (!(std::tie(prev.key, prev.id) < std::tie(t.key, t.id)))
        return corrupt("tombstones are not strictly increasing by (key, id)");
    }
    b.delta.tombstones.push_back(std::move(t));
  }
  return b;
}

}  // namespace

Status check_key(std::string_view key) {
  if (key.empty()) return invalid("key is empty");
  if (key.size() > kMaxKeyBytes)
    return invalid("key is " + std::to_string(key.size()) + " bytes, limit " +
                   std::to_string(kMaxKeyBytes));
  if (key.find('\0') != std::string_view::npos) return invalid("key contains a NUL byte");
  return Status::ok();
}

Bytes encode_block(const Block& block) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_array(5);
  pk.pack_uint64(kBlockVersion);
  pk.pack_array(static_cast<uint32_t>(block.links.size()));
  for (const auto& l : block.links) pack::bin(pk, l.view());
  pk.pack_uint64(block.delta.priority);
  pk.pack_array(static_cast<uint32_t>(block.delta.elements.size()));
  for (const auto& e : block.delta.elements) {
    pk.pack_array(2);
    pack::str(pk, e.key);
    pack::bin(pk, e.value);
  }
  pk.pack_array(static_cast<uint32_t>(block.delta.tombstones.size()));
  for (const auto& t : block.delta.tombstones) {
    pk.pack_array(2);
    pack::str(pk, t.key);
    pack::bin(pk, t.id.view());
  }
  return pack::to_bytes(buf);
}

Result<Block> decode_block(ByteView bytes) {
  if (bytes.empty()) return corrupt("block is empty");
  if (bytes.size() > kMaxBlockBytes)
    return too_large("block is " + std::to_string(bytes.size()) + " bytes, limit " +
                     std::to_string(kMaxBlockBytes));
  // Bounds for the parser itself: counts, sizes and nesting depth.
  msgpack::unpack_limit limit(kMaxEntries, 0, kMaxKeyBytes * 4, kMaxValueBytes, 0, 4);
  return pack::decode(bytes, limit, "block",
                      [](const msgpack::object& root) { return decode_object(root); });
}

size_t element_wire_size(const Element& e) { return e.key.size() + e.value.size() + 12; }
size_t tombstone_wire_size(const Tombstone& t) { return t.key.size() + t.id.bytes().size() + 8; }

}  // namespace trellis
