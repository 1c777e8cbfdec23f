// Bodies of the built-in methods and the heads topic (sans-I/O).
//
//   blocks.get     request: [cid…] (≤ kMaxGetCids)
//                  response: [[cid, bytes]…] for the blocks the callee holds
//   blocks.subdag  request: [[root cid…], [have cid…], max_blocks]
//                  stream items: [[cid, bytes]…] (≈ kStreamItemBytes each)
//                  response: blocks sent (uint)
//   heads          request: empty; response: [cid…] (≤ kMaxHeads)
//   topic heads    data: [cid…] (≤ kMaxHeads): the publisher's heads
//   peers.exchange request and response: [[peer ID bytes, [multiaddr…]]…]
//
// CIDs travel as their binary form. Decoders are bounded and strict; a
// block's bytes are checked against its CID by the replica, not here.
#pragma once

#include <span>
#include <vector>

#include "crdt/cid.h"
#include "crdt/replica.h"
#include "net/peerstore.h"

namespace trellis::net {

inline constexpr size_t kMaxGetCids = 256;
inline constexpr size_t kMaxHeads = 64;
inline constexpr size_t kMaxRoots = 1024;
inline constexpr size_t kMaxHaves = 64;
inline constexpr size_t kMaxSubdagBlocks = 200'000;  // per request; ask again for more
inline constexpr size_t kStreamItemBytes = size_t{256} << 10;
inline constexpr size_t kMaxBlocksPerItem = 4096;

Bytes encode_cids(std::span<const Cid> cids);
Result<std::vector<Cid>> decode_cids(ByteView body, size_t max);

Bytes encode_blocks(std::span<const IncomingBlock> blocks);
Result<std::vector<IncomingBlock>> decode_blocks(ByteView body);

struct SubdagRequest {
  std::vector<Cid> roots, haves;
  uint64_t max_blocks = kMaxSubdagBlocks;
  friend bool operator==(const SubdagRequest&, const SubdagRequest&) = default;
};
Bytes encode_count(uint64_t n);
Result<uint64_t> decode_count(ByteView body);

Bytes encode_subdag_request(const SubdagRequest& r);
Result<SubdagRequest> decode_subdag_request(ByteView body);

// Peer exchange: entries that do not parse are skipped, not fatal; at most
// max_entries entries and max_addrs addresses each are read.
Bytes encode_exchange(const std::vector<ExchangeEntry>& entries);
Result<std::vector<ExchangeEntry>> decode_exchange(ByteView bytes, size_t max_entries,
                                                   size_t max_addrs);

}  // namespace trellis::net
