// A large pinset for the end-to-end benchmarks (join, list, footprint):
// written straight into a stopped trellisd peer's state folder with
// Replica::commit as `trellisd state import` does, without fsync and
// without the JSON step, so that 10,000,000 pins take minutes instead of
// hours. Pin i depends only on
// (seed, i): a CIDv1 raw CID, replication 1, allocated to `holder` (a peer
// that never runs, so no tracker pins anything and repinning is off).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>
#include <string>

#include "crdt/status.h"
#include "pinning/pin.h"
#include "tools/bench/common.h"
#include "tools/bench/trellis_peers.h"

namespace trellis::bench {

// Pin i of the benchmark pinset.
pinning::Pin bench_pin(uint64_t seed, uint64_t i, const std::string& holder);

// A peer ID that no benchmark peer has (the pins' allocation).
std::string absent_peer_id();

// Commits pins [0, n) into the replica at state_dir (created if missing),
// `per_commit` per commit (kImportChunk: the blocks `state import` makes;
// larger commits write each B-tree page fewer times, and make ~1 MB blocks),
// printing progress to stderr under `label`.
// With key_order the pins are written sorted by key, as `state import`
// of an export (which is in key order) writes them: each commit then
// touches neighbouring B-tree leaves instead of random ones, which is what
// makes 10M pins take minutes; otherwise in index order (random keys).
Status write_pinset(const std::string& state_dir, uint64_t n, uint64_t seed,
                    const std::string& label, size_t per_commit, bool key_order = false);

// Pins per commit for list and footprint (written in key order).
inline constexpr size_t kBulkCommit = 10'000;

// The PeerSetup of a peer holding such a pinset: pinning on but pointed at
// a closed port (GET /allocations needs the tracker), repinning off.
PeerSetup holding_setup(bool rest);

// A stopped peer under root/peer0 holding n pins (holding_setup(rest), in
// key order, kBulkCommit per commit) and, under root/raw, a raw LMDB store
// holding the same /pins/ keys and values: the list and footprint setup.
Result<std::unique_ptr<TrellisPeers>> holding_peer(const std::string& binary, const std::string& root,
                                                   size_t n, uint64_t seed, const std::string& label);

// The results of `one` for each size of `sizes` (`fallback` when empty), in order.
using SizeRun = std::function<Result<std::vector<BenchResult>>(size_t n)>;
Result<std::vector<BenchResult>> for_each_size(const std::vector<size_t>& sizes,
                                               const std::vector<size_t>& fallback,
                                               const SizeRun& one);

// Every /pins/ key and value of a stopped or running peer's store (read-only).
Status scan_pins(const std::string& state_dir,
                 const std::function<bool(std::string_view key, ByteView value)>& fn);

// Bytes a folder takes on disk (allocated blocks of every file under it).
uint64_t disk_bytes(const std::string& dir);

// Seconds since t0.
double seconds_since(std::chrono::steady_clock::time_point t0);

}  // namespace trellis::bench
