// Blocks and deltas: the units of the Merkle-CRDT DAG, and their codec.
//
// Wire form (msgpack, see docs/crdt.md):
//   [version=1, [link CID bytes...], priority, [[key, value]...], [[key, id CID bytes]...]]
// Links are strictly increasing, elements strictly increasing by key,
// tombstones strictly increasing by (key, id): one encoding per block, so
// equal content always has the same CID. Every decode is bounded by the
// limits below and reports the first thing that is wrong.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "crdt/bytes.h"
#include "crdt/cid.h"
#include "crdt/status.h"

namespace trellis {

inline constexpr uint64_t kBlockVersion = 1;
inline constexpr size_t kMaxBlockBytes = size_t{2} << 20;  // whole encoded block
inline constexpr size_t kMaxLinks = 1024;                  // links per block
inline constexpr size_t kMaxKeyBytes = 256;                // a key (no NUL bytes)
inline constexpr size_t kMaxValueBytes = size_t{1} << 20;  // a value
inline constexpr size_t kMaxEntries = 65536;  // elements + tombstones per block
// Commits split larger batches into a chain of blocks of about this size.
inline constexpr size_t kTargetBlockBytes = size_t{1} << 20;

struct Element {
  std::string key;
  Bytes value;
  friend bool operator==(const Element&, const Element&) = default;
};

struct Tombstone {
  std::string key;
  Cid id;  // the block that carried the element
  friend bool operator==(const Tombstone&, const Tombstone&) = default;
};

struct Delta {
  uint64_t priority = 0;  // the block's height: 1 + the max height of its links
  std::vector<Element> elements;
  std::vector<Tombstone> tombstones;
  friend bool operator==(const Delta&, const Delta&) = default;
};

struct Block {
  std::vector<Cid> links;
  Delta delta;
  friend bool operator==(const Block&, const Block&) = default;
};

// Checks a key: non-empty, at most kMaxKeyBytes, no NUL byte.
Status check_key(std::string_view key);

// Encodes a well-formed block (sorted, within bounds); the caller ensures it.
Bytes encode_block(const Block& block);
// Strict, bounded decode of untrusted bytes.
Result<Block> decode_block(ByteView bytes);

// Bytes an element or tombstone adds to an encoded block (upper bound), for
// splitting batches.
size_t element_wire_size(const Element& e);
size_t tombstone_wire_size(const Tombstone& t);

}  // namespace trellis
