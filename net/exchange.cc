#include "net/exchange.h"

#include "crdt/block.h"
#include "crdt/pack.h"
#include "net/wire.h"

namespace trellis::net {

namespace {

void pack_cids(pack::Packer& pk, std::span<const Cid> cids) {
  pk.pack_array(static_cast<uint32_t>(cids.size()));
  for (const auto& c : cids) pack::bin(pk, c.view());
}

Result<std::vector<Cid>> cids_of(const msgpack::object& o, const char* what, size_t max) {
  auto list = pack::array(o, what);
  if (!list) return list.status();
  if ((*list)->size > max)
    return too_large(std::string(what) + " has " + std::to_string((*list)->size) +
                     " CIDs, limit " + std::to_string(max));
  std::vector<Cid> out;
  out.reserve((*list)->size);
  for (uint32_t i = 0; i < (*list)->size; ++i) {
    auto b = pack::as_bin((*list)->ptr[i], "CID");
    if (!b) return b.status();
    auto cid = Cid::from_bytes(*b);
    if (!cid) return corrupt(std::string(what) + ": " + cid.status().message());
    out.push_back(std::move(*cid));
  }
  return out;
}

// Arrays: CID lists and block lists; strings: none; bins: a block.
msgpack::unpack_limit limits(size_t max_array) {
  return msgpack::unpack_limit(max_array, 0, 0, kMaxBlockBytes, 0, 3);
}

}  // namespace

Bytes encode_cids(std::span<const Cid> cids) {
  msgpack::sbuffer buf;
  pack::Packer pk(buf);
  pack_cids(pk, cids);
  return pack::to_bytes(buf);
}

Result<std::vector<Cid>> decode_cids(ByteView body, size_t max) {
  return pack::decode(body, limits(max), "CID list",
                      [&](const msgpack::object& root) { return cids_of(root, "CID list", max); });
}

Bytes encode_blocks(std::span<const IncomingBlock> blocks) {
  msgpack::sbuffer buf;
  pack::Packer pk(buf);
  pk.pack_array(static_cast<uint32_t>(blocks.size()));
  for (const auto& b : blocks) {
    pk.pack_array(2);
    pack::bin(pk, b.cid.view());
    pack::bin(pk, b.bytes);
  }
  return pack::to_bytes(buf);
}

Result<std::vector<IncomingBlock>> decode_blocks(ByteView body) {
  return pack::decode(
      body, limits(kMaxBlocksPerItem), "block list",
      [](const msgpack::object& root) -> Result<std::vector<IncomingBlock>> {
        auto list = pack::array(root, "block list");
        if (!list) return list.status();
        if ((*list)->size > kMaxBlocksPerItem)
          return too_large("block list has " + std::to_string((*list)->size) +
                           " blocks, limit " + std::to_string(kMaxBlocksPerItem));
        std::vector<IncomingBlock> out;
        out.reserve((*list)->size);
        for (uint32_t i = 0; i < (*list)->size; ++i) {
          auto pair = pack::array((*list)->ptr[i], "block entry", 2);
          if (!pair) return pair.status();
          auto cb = pack::as_bin((*pair)->ptr[0], "block CID");
          if (!cb) return cb.status();
          auto cid = Cid::from_bytes(*cb);
          if (!cid) return corrupt("block CID: " + cid.status().message());
          auto bytes = pack::as_bin((*pair)->ptr[1], "block bytes");
          if (!bytes) return bytes.status();
          out.push_back({std::move(*cid), Bytes(bytes->begin(), bytes->end())});
        }
        return out;
      });
}

Bytes encode_count(uint64_t n) {
  msgpack::sbuffer buf;
  pack::Packer pk(buf);
  pk.pack_uint64(n);
  return pack::to_bytes(buf);
}

Result<uint64_t> decode_count(ByteView body) {
  return pack::decode(body, limits(0), "count",
                      [](const msgpack::object& o) { return pack::as_uint(o, "count"); });
}

Bytes encode_subdag_request(const SubdagRequest& r) {
  msgpack::sbuffer buf;
  pack::Packer pk(buf);
  pk.pack_array(3);
  pack_cids(pk, r.roots);
  pack_cids(pk, r.haves);
  pk.pack_uint64(r.max_blocks);
  return pack::to_bytes(buf);
}

Result<SubdagRequest> decode_subdag_request(ByteView body) {
  return pack::decode(body, limits(kMaxRoots), "sub-DAG request",
                      [](const msgpack::object& root) -> Result<SubdagRequest> {
                        auto f = pack::array(root, "sub-DAG request", 3);
                        if (!f) return f.status();
                        SubdagRequest r;
                        auto roots = cids_of((*f)->ptr[0], "roots", kMaxRoots);
                        if (!roots) return roots.status();
                        auto haves = cids_of((*f)->ptr[1], "haves", kMaxHaves);
                        if (!haves) return haves.status();
                        auto max = pack::as_uint((*f)->ptr[2], "max_blocks");
                        if (!max) return max.status();
                        r.roots = std::move(*roots);
                        r.haves = std::move(*haves);
                        r.max_blocks = std::min<uint64_t>(*max, kMaxSubdagBlocks);
                        return r;
                      });
}

Bytes encode_exchange(const std::vector<ExchangeEntry>& entries) {
  msgpack::sbuffer buf;
  pack::Packer pk(buf);
  pk.pack_array(static_cast<uint32_t>(entries.size()));
  for (const auto& e : entries) {
    pk.pack_array(2);
    pack::bin(pk, e.id.bytes());
    pk.pack_array(static_cast<uint32_t>(e.addrs.size()));
    for (const auto& a : e.addrs) pack::str(pk, a.to_string());
  }
  return pack::to_bytes(buf);
}

// Entries that fail to parse are skipped; the bounds are the peer store's.
Result<std::vector<ExchangeEntry>> decode_exchange(ByteView bytes, size_t max_entries,
                                                   size_t max_addrs) {
  msgpack::unpack_limit limit(std::max(max_entries, max_addrs), 0, kMaxAddrBytes, 64, 0, 3);
  return pack::decode(bytes, limit, "peer exchange",
                      [&](const msgpack::object& root) -> Result<std::vector<ExchangeEntry>> {
                        auto list = pack::array(root, "peer exchange");
                        if (!list) return list.status();
                        std::vector<ExchangeEntry> out;
                        for (uint32_t i = 0; i < (*list)->size && i < max_entries; ++i) {
                          auto pair = pack::array((*list)->ptr[i], "peer entry", 2);
                          if (!pair) continue;
                          auto idb = pack::as_bin((*pair)->ptr[0], "peer id");
                          auto addrs = pack::array((*pair)->ptr[1], "peer addresses");
                          if (!idb || !addrs) continue;
                          auto id = PeerId::from_bytes(*idb);
                          if (!id) continue;
                          ExchangeEntry e{*id, {}};
                          for (uint32_t k = 0; k < (*addrs)->size && k < max_addrs; ++k) {
                            auto s = pack::as_str((*addrs)->ptr[k], "address");
                            if (!s) continue;
                            if (auto a = Multiaddr::parse(*s)) e.addrs.push_back(*a);
                          }
                          out.push_back(std::move(e));
                        }
                        return out;
                      });
}

}  // namespace trellis::net
