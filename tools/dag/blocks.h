// trellis-dag: looking at single blocks of a store snapshot.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "crdt/block.h"
#include "crdt/cid.h"
#include "crdt/store.h"

namespace trellis::dag {

// Where a block stands in the replica's walk.
enum class BlockState {
  merged,   // applied to the state
  ready,    // stored, links all merged, merge queued
  pending,  // stored, waiting for links to be merged
  staged,   // stored by a sub-DAG stream, merged when the stream ends
  stuck,    // stored but in none of merged/ready/pending/staged (should not happen)
  wanted,   // not stored; the replica is asking peers for it
  absent,   // not stored and not wanted
};

const char* state_name(BlockState s);
BlockState block_state(const Txn& txn, const Dbs& dbs, const Cid& cid);
bool is_stored(BlockState s);

// The height recorded in `merged`, if the block is merged.
std::optional<uint64_t> merged_height(const Txn& txn, const Dbs& dbs, const Cid& cid);
// Number of links not merged yet, as recorded in `pending`.
std::optional<uint64_t> pending_count(const Txn& txn, const Dbs& dbs, const Cid& cid);
// The peer hint of a want ("" when unknown), if the block is wanted.
std::optional<std::string> want_peer(const Txn& txn, const Dbs& dbs, const Cid& cid);

// The greatest height among the heads (0 when there are none).
uint64_t max_head_height(const Txn& txn, const Dbs& dbs);

// Decodes a stored block; not_found if it is not stored.
Result<Block> load_block(const Txn& txn, const Dbs& dbs, const Cid& cid);

// What became of element `e` of block `cid` (merged or not) in the
// current state: kCurrentValue (it is the key's winner), "live,
// overridden", "tombstoned", "not merged" or "missing from the state".
inline constexpr std::string_view kCurrentValue = "live, current value";
std::string element_fate(const Txn& txn, const Dbs& d, const Cid& cid, bool merged,
                         const Element& e);

// Parses a CID given on the command line, with a message saying what a
// Trellis block CID looks like when it is not one.
Result<Cid> parse_cid_arg(std::string_view text);

}  // namespace trellis::dag
