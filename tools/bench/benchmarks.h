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

// End-to-end benchmarks with real trellisd processes; one result per pinset
// size (Options::sizes) where sizes apply.
// Seconds until a fresh peer joined to one holding N pins holds its state,
// against a raw copy of the same pins over loopback TCP into raw LMDB.
Result<std::vector<BenchResult>> run_join(const Options& opts, const WorkDir& work);
// p99 ms from POST /pins/{cid} to visible on all 5 peers, against 5 etcd members.
Result<std::vector<BenchResult>> run_latency(const Options& opts, const WorkDir& work);
// Pins/s streamed by GET /allocations, against a raw LMDB scan of the same data.
Result<std::vector<BenchResult>> run_list(const Options& opts, const WorkDir& work);
// Disk and RSS bytes per pin of a peer holding N pins, against raw LMDB.
Result<std::vector<BenchResult>> run_footprint(const Options& opts, const WorkDir& work);

// `trellis-bench sim ...`: args are the arguments after "sim". Returns the
// process exit code.
int run_sim_command(int argc, char** argv);

}  // namespace trellis::bench
