// trellis-dag: help texts.
#include <fmt/format.h>

#include <cstdio>

#include "tools/dag/cli.h"

namespace trellis::dag {

namespace {

struct CommandHelp {
  std::string_view name;
  std::string_view text;
};

constexpr CommandHelp kCommands[] = {
    {"info",
     "info\n"
     "    Heads, max height, block count, the walk state (merged, pending, wanted,\n"
     "    ready blocks), distinct live keys, element and tombstone counts, map size.\n"},
    {"heads",
     "heads\n"
     "    The current heads, one per line: CID HEIGHT.\n"},
    {"show",
     "show CID [--all]\n"
     "    One block: its state (merged, ready, pending, wanted), priority, links\n"
     "    and their state, elements (key = value, with whether each is live, the\n"
     "    key's current value, or tombstoned) and tombstones. Values print as\n"
     "    \"text\" when printable, else as 0xHEX, cut after 64 characters; at most\n"
     "    100 elements and tombstones are listed unless --all is given (--json\n"
     "    always gives everything). Exit 1 if the block is not stored.\n"},
    {"walk",
     "walk [--from CID]... [--limit N]\n"
     "    Breadth-first from the heads (or from the given CIDs) down the links,\n"
     "    one line per block: CID HEIGHT ELEMENTS TOMBSTONES STATE. A block that\n"
     "    is not stored prints as CID - - - missing (or \"missing (wanted)\" when\n"
     "    the replica is fetching it). The visited set lives in a temporary LMDB\n"
     "    database under $TMPDIR (default /tmp; point it at a disk, not tmpfs,\n"
     "    for huge DAGs), so memory stays small. --json prints one object per\n"
     "    line.\n"},
    {"keys",
     "keys [PREFIX]\n"
     "    The live keys (starting with PREFIX), one per line in byte order.\n"
     "    Backslashes, control characters and bytes that are not UTF-8 are\n"
     "    escaped (\\\\, \\xNN); --json prints exact {\"key\", \"value\"} objects,\n"
     "    one per line (\"key_hex\"/\"value_hex\" when not UTF-8).\n"},
    {"get",
     "get KEY\n"
     "    The current value of KEY, raw bytes to stdout (--json: an object with\n"
     "    key, value or value_hex, and priority). Exit 1 if KEY has no live value.\n"},
    {"verify",
     "verify\n"
     "    Checks, on one snapshot of the store:\n"
     "     1. every stored block hashes to its CID and decodes;\n"
     "     2. every link is stored; links of pending blocks that are being\n"
     "        fetched are listed as \"missing (wanted)\" and are fine, missing\n"
     "        links of merged blocks are problems;\n"
     "     3. links of merged blocks are merged, every merged block is stored and\n"
     "        reachable from a head, the walk state (pending counts, ready\n"
     "        queue) is consistent;\n"
     "     4. the state recomputed from the merged blocks alone (in a temporary\n"
     "        replica) has the same live keys, values and heads as the store,\n"
     "        and the same elements and tombstones underneath.\n"
     "    Warns (without failing) when a block's priority is not 1 + the\n"
     "    highest priority of its links. Prints a summary; exit 1 on any\n"
     "    problem. Needs temporary space under $TMPDIR about the size of the\n"
     "    store; a daemon writing meanwhile keeps working (the store file may\n"
     "    grow while the snapshot is held).\n"},
    {"dot",
     "dot [--levels N]\n"
     "    The DAG in Graphviz DOT on stdout, heads at the top: each block is\n"
     "    labelled with its short CID, height and up to 3 keys; heads are bold,\n"
     "    blocks not merged dashed, missing links grey. --levels N keeps only\n"
     "    the top N heights. Render with: trellis-dag DIR dot | dot -Tsvg > dag.svg\n"
     "    (or trellis-dag DIR svg).\n"},
    {"svg",
     "svg [--levels N] [--out FILE]\n"
     "    The dot drawing rendered as SVG by Graphviz (dot -Tsvg, found on\n"
     "    PATH), on stdout or into FILE (which appears only once complete).\n"
     "    Exit 3 if Graphviz is not installed (apt install graphviz) or dot\n"
     "    fails.\n"},
    {"diff",
     "diff STORE_B [--all]\n"
     "    Compares this store (A) with STORE_B (B), each part in key order and\n"
     "    ending with its counts: heads and stored blocks only one of them holds\n"
     "    (A|B CID HEIGHT), then live keys only one has (A|B KEY = VALUE) or with\n"
     "    different values (≠ KEY: A VALUE, B VALUE). The last line says \"equal\"\n"
     "    when both have the same live keys and values, else how many keys\n"
     "    differ, and whether the heads are the same. At most 100 entries of each\n"
     "    kind are listed unless --all is given. Walks the sorted tables of both\n"
     "    stores in step, so memory stays small. --json prints one object per\n"
     "    line, every entry: {\"diff\": \"head\"|\"block\", \"only_in\", \"cid\",\n"
     "    \"height\"}, {\"diff\": \"key\", \"key\", \"only_in\" and \"value\", or\n"
     "    \"value_a\" and \"value_b\"}, then {\"diff\": \"summary\", ...} with the\n"
     "    counts, states_equal and heads_equal. Exit 0 when the states are\n"
     "    equal, 1 when they differ.\n"},
    {"stats",
     "stats [--buckets N]\n"
     "    Blocks (stored, merged, pending, ready, staged, wanted), bytes of the\n"
     "    blocks and of data.mdb, depth (the highest height), heads now, live\n"
     "    elements, tombstones and their ratio (tombstones / both), live keys and\n"
     "    keys ever set (live or removed). Then the DAG's width per height: the\n"
     "    heights 1..depth in at most N equal ranges (default 20), each with its\n"
     "    merged blocks (and a bar), the widest height in it (blocks at one\n"
     "    height never link each other, so the width is how many writes were\n"
     "    concurrent there: 1 on one writer's chain, more while replicas wrote\n"
     "    apart) and merges (blocks linking 2 or more blocks, where concurrent\n"
     "    branches joined). Streams over the store; the height order is kept in\n"
     "    a temporary LMDB database under $TMPDIR, as for walk. --json: one\n"
     "    object, the ranges in \"heights\".\n"},
    {"history",
     "history KEY\n"
     "    Every stored block that set or removed KEY, newest first (by height):\n"
     "    CID HEIGHT (and the state when not merged), then what it did: set\n"
     "    VALUE [what became of that element: live, current value (the key's\n"
     "    winner), live, overridden, tombstoned or not merged], and removed the\n"
     "    values set by the blocks named. The store keeps no index from a key\n"
     "    to the blocks that removed it, so every stored block is scanned, one\n"
     "    at a time; blocks whose bytes do not contain KEY are skipped without\n"
     "    decoding. The blocks found are held in memory to sort them. --json:\n"
     "    one object per block {cid, height, state, value, fate, winner,\n"
     "    removed}. Exit 1 if no stored block sets or removes KEY.\n"},
    {"export",
     "export FILE\n"
     "    Writes a CARv1 archive whose roots are the current heads and whose\n"
     "    sections are every merged block, lowest height first. Streams from\n"
     "    one snapshot; FILE appears only once complete.\n"},
    {"import",
     "import FILE\n"
     "    Feeds the blocks of a CARv1 archive to the store (created if the\n"
     "    directory has none). This one writes: it fails if a daemon has the\n"
     "    store open, stop it first. Each block is hashed against its CID;\n"
     "    progress goes to stderr on long imports. Reports blocks stored,\n"
     "    merged, already present and rejected; exit 1 if any were rejected or\n"
     "    a root could not be merged.\n"},
};

}  // namespace

std::string_view command_help(std::string_view command) {
  for (const auto& c : kCommands)
    if (c.name == command) return c.text;
  return {};
}

void print_help() {
  fmt::print(
      "trellis-dag: inspect a Trellis replica store (read-only; safe while a daemon runs)\n"
      "\n"
      "Usage: trellis-dag [--json] [--live ...] STORE_DIR COMMAND [ARGS]\n"
      "       trellis-dag [--json] --store STORE_DIR COMMAND [ARGS]\n"
      "       trellis-dag help [COMMAND]\n"
      "\n"
      "STORE_DIR is a store directory (holding data.mdb, as given to trellis-bench\n"
      "sim --out) or a trellisd data directory (its store, DIR/state, is read).\n"
      "--json (accepted anywhere before --) prints JSON for info, heads, show, walk,\n"
      "keys, get, verify, export, import, diff, stats and history; walk, keys, diff\n"
      "and history print one object per line.\n"
      "\n"
      "--live (with --interval and --count, anywhere before --) watches a store a\n"
      "daemon is writing: COMMAND runs on a fresh snapshot every --interval SECONDS\n"
      "(default 2) until interrupted or --count N snapshots, each after a header\n"
      "line with the time and the daemon's PID when one holds DIR/lock (for a\n"
      "store directory: whether a writer holds its writer.lock). The lock is only\n"
      "probed, never held: a non-blocking shared flock released at once, tried\n"
      "only when the lock file names no PID or a running one. With --json the\n"
      "header is an object {{snapshot, time, lock, held, pid}} on its own line.\n"
      "Useful with info, heads and stats; not with export or import.\n"
      "\n"
      "Commands:\n");
  for (const auto& c : kCommands) fmt::print("  {}\n", c.text);
  fmt::print(
      "Exit codes: 0 ok; 1 verify found problems, the key/block was not found, or\n"
      "diff found different states; 2 usage error; 3 the store or a file could not\n"
      "be opened, read or written.\n");
}

}  // namespace trellis::dag
