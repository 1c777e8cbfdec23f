// trellis-dag --live: one command re-run on fresh snapshots of a store that
// a daemon is writing, each after a header naming the time and the writer.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "tools/dag/cli.h"

namespace trellis::dag {

struct WatchOptions {
  double interval_seconds = 2;    // between the starts of two snapshots' runs
  std::optional<uint64_t> count;  // snapshots to take; none: until interrupted
};

// The options from the texts of --interval (a positive number of seconds:
// "2", "0.5") and --count when given. On a bad value prints a usage error
// and returns nullopt.
std::optional<WatchOptions> watch_options(const std::optional<std::string>& interval,
                                          const std::optional<std::string>& count);

// Runs `once` (which opens the store afresh, so each run reads a new
// snapshot) `count` times or until the process is interrupted, sleeping
// the interval between runs. Before each run prints a header: the snapshot
// number, the local time and whether a process holds ctx.lock_file, with
// its PID when the lock file names it (trellisd does); with --json as one
// object per line. Stops at a usage error; returns the highest exit code.
int watch(const Context& ctx, const WatchOptions& opts, const std::function<int()>& once);

}  // namespace trellis::dag
