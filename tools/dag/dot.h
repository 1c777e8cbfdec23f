// trellis-dag: the DAG as Graphviz DOT, shared by dot and svg.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>

#include "crdt/store.h"
#include "tools/dag/args.h"

namespace trellis::dag {

// Reads --levels N (a positive number) into *levels when given; on a bad
// value prints a usage error for `command` and returns false.
bool parse_levels(std::string_view command, const ParsedArgs& parsed,
                  std::optional<uint64_t>* levels);

// Writes the DAG of one snapshot to `out`, heads at the top, only the top
// `levels` heights when given: each block labelled with its short CID,
// height and up to 3 keys; heads bold, blocks not merged dashed, missing
// links grey. Throws std::system_error (from fmt) if `out` fails.
Status write_dot(const Txn& txn, const Dbs& d, std::optional<uint64_t> levels, std::FILE* out);

}  // namespace trellis::dag
