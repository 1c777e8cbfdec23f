#include "tools/dag/blocks.h"

#include <algorithm>

#include "crdt/merger.h"
#include "crdt/replica.h"

namespace trellis::dag {

const char* state_name(BlockState s) {
  switch (s) {
    case BlockState::merged:
      return "merged";
    case BlockState::ready:
      return "ready";
    case BlockState::pending:
      return "pending";
    case BlockState::staged:
      return "staged";
    case BlockState::stuck:
      return "stuck";
    case BlockState::wanted:
      return "wanted";
    case BlockState::absent:
      return "absent";
  }
  return "?";
}

bool is_stored(BlockState s) {
  return s != BlockState::wanted && s != BlockState::absent;
}

BlockState block_state(const Txn& txn, const Dbs& dbs, const Cid& cid) {
  if (!txn.has(dbs.blocks, cid.view()))
    return txn.has(dbs.wants, cid.view()) ? BlockState::wanted : BlockState::absent;
  if (txn.has(dbs.merged, cid.view())) return BlockState::merged;
  if (txn.has(dbs.ready, cid.view())) return BlockState::ready;
  if (txn.has(dbs.pending, cid.view())) return BlockState::pending;
  if (txn.has(dbs.staged, cid.view())) return BlockState::staged;
  return BlockState::stuck;
}

std::optional<uint64_t> merged_height(const Txn& txn, const Dbs& dbs, const Cid& cid) {
  auto v = txn.get(dbs.merged, cid.view());
  if (!v) return std::nullopt;
  return get_u64be(*v);
}

std::optional<uint64_t> pending_count(const Txn& txn, const Dbs& dbs, const Cid& cid) {
  auto v = txn.get(dbs.pending, cid.view());
  if (!v) return std::nullopt;
  return get_u64be(*v);
}

std::optional<std::string> want_peer(const Txn& txn, const Dbs& dbs, const Cid& cid) {
  auto v = txn.get(dbs.wants, cid.view());
  if (!v) return std::nullopt;
  return std::string(as_chars(*v));
}

uint64_t max_head_height(const Txn& txn, const Dbs& dbs) {
  uint64_t top = 0;
  Cursor c(txn, dbs.heads);
  for (bool ok = c.first(); ok; ok = c.next()) top = std::max(top, get_u64be(c.value()));
  return top;
}

Result<Block> load_block(const Txn& txn, const Dbs& dbs, const Cid& cid) {
  auto bytes = txn.get(dbs.blocks, cid.view());
  if (!bytes) return Status(Code::not_found, "block " + cid.to_string() + " is not stored");
  auto block = decode_block(*bytes);
  if (!block) return corrupt("stored block " + cid.to_string() + ": " + block.status().message());
  return block;
}

std::string element_fate(const Txn& txn, const Dbs& d, const Cid& cid, bool merged,
                         const Element& e) {
  if (!merged) return "not merged";
  Bytes k = element_key(e.key, cid);
  if (txn.has(d.tombs, k)) return "tombstoned";
  auto v = txn.get(d.elems, k);
  if (!v) return "missing from the state";
  auto w = find_winner(txn, d, e.key);
  ByteView mine = v->subspan(8);
  if (w && w->priority == get_u64be(*v) &&
      std::equal(w->value.begin(), w->value.end(), mine.begin(), mine.end()))
    return std::string(kCurrentValue);
  return "live, overridden";
}

Result<Cid> parse_cid_arg(std::string_view text) {
  auto cid = Cid::parse(text);
  if (!cid)
    return invalid("'" + std::string(text) + "' is not a CID (" + cid.status().message() +
                   "); use a block CID as printed by `heads` or `walk`");
  return cid;
}

}  // namespace trellis::dag
