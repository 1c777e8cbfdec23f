// The deterministic simulation: a seeded random workload and random faults
// run against a Cluster (see cluster.h), then a check that every replica
// converged to the same state.
//
// One run: open `replicas` replicas on LMDB directories; perform `ops`
// random operations (puts, removes, multi-key batches and bursts of
// concurrent writes to one key from several replicas, over a small key
// space) while the virtual network delays, reorders, duplicates and drops
// messages; with `faults`, also partition and heal replicas, crash and
// reopen them, and inject write failures (after which the replica crashes).
// Then heal everything, stop the faults, reopen every replica and run until
// quiet (nothing in flight, no wants, equal heads) within a bounded number
// of steps. The run converged when every replica holds the same key→value
// map (get() and scan("")) and the same heads, every value was written to
// its key by someone, nothing is left pending, and each replica's hook
// events replayed in order give its final map.
//
// A run is a pure function of its SimConfig: a failing seed replays alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "crdt/status.h"
#include "tools/sim/cluster.h"

namespace trellis::sim {

struct SimConfig {
  size_t replicas = 4;
  size_t ops = 200;
  uint64_t seed = 1;
  std::string dir;  // empty: make and remove a temp dir
  bool keep = false;
  bool faults = true;  // drops, dups, partitions, crashes
  size_t initial_map_size = size_t{1} << 20;
  bool sync = false;
  size_t keys = 8;          // size of the key space
  size_t merge_budget = 0;  // ReplicaOptions::merge_budget; 0: chosen by the seed
  // Bound on the steps of the quiescence phase; 0: 100,000 + 100 per
  // operation per replica.
  size_t max_steps = 0;
  // When set, one line per workload and fault event (for replaying a seed).
  std::function<void(std::string_view)> trace;
};

struct SimReport {
  bool converged = false;
  std::string detail;  // what differed (names the seed); empty when converged
  size_t messages = 0, dropped = 0, duplicated = 0, crashes = 0, partitions = 0;
  size_t blocks = 0;  // blocks stored on each replica at the end
  double seconds = 0;
  // Extras.
  size_t writes = 0, failed_writes = 0, steps = 0;
  uint64_t virtual_ms = 0;
  size_t max_map_size = 0;  // the largest LMDB map at the end (it starts small)
};

// Fails only when the simulation itself cannot run (e.g. no temp dir);
// replica bugs come back as a report that did not converge.
Result<SimReport> run_simulation(const SimConfig& cfg);

// One line summarizing a report, for logs.
std::string summary(const SimReport& r);

}  // namespace trellis::sim
