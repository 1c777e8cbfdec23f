// The benchmark families of trellis-bench. Each runs Options::runs times
// against fresh stores under the work directory and reports medians.
#pragma once

#include "tools/bench/common.h"

namespace trellis::bench {

inline constexpr size_t kDefaultIngestKeys = 200'000;
inline constexpr size_t kDefaultScanKeys = 1'000'000;

// Durable Replica::commit of batches of 100-byte puts (keys/s).
Result<BenchResult> run_ingest(const Options& opts, const WorkDir& work);
// Replaying a DAG of Options::blocks blocks into an empty replica (blocks/s).
Result<BenchResult> run_merge(const Options& opts, const WorkDir& work);
// Replica::scan("") over a replica of Options::keys keys (keys/s).
Result<BenchResult> run_scan(const Options& opts, const WorkDir& work);

// A fresh peer syncing a DAG of Options::blocks blocks over loopback (blocks/s).
Result<BenchResult> run_net_join(const Options& opts, const WorkDir& work);
// Commit-to-visible-on-5-peers latency, p99 in ms (Options::keys samples).
Result<BenchResult> run_net_latency(const Options& opts, const WorkDir& work);

// Pins/s a Tracker drives into a real js-ipfs daemon for local blocks,
// against a bare sequential HTTP loop of the same pin/add calls.
Result<BenchResult> run_tracker(const Options& opts, const WorkDir& work);

// Pins/s accepted by POST /pins/{cid} on one of 3 trellisd processes, against
// a 3-member etcd cluster taking the same puts through its HTTP gateway.
Result<BenchResult> run_api_ingest(const Options& opts, const WorkDir& work);

// Seconds until --followers trellisd followers started together hold the
// state of one trusted writer, against one follower alone; and the writer's
// bytes sent, in copies of the DAG.
Result<BenchResult> run_follow(const Options& opts, const WorkDir& work);

// `trellis-bench sim ...`: args are the arguments after "sim". Returns the
// process exit code.
int run_sim_command(int argc, char** argv);

}  // namespace trellis::bench
