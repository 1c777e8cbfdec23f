// trellis-bench: benchmarks of crdt/, net/, the tracker and the REST API
// against baselines measured in the same run, and the simulation runner. See docs/BENCHMARKS.md.
#include <fmt/format.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "crdt/replica.h"
#include "tools/bench/args.h"
#include "tools/bench/benchmarks.h"

namespace {

using namespace trellis::bench;
using trellis::Result;

constexpr const char* kUsage = R"(usage: trellis-bench BENCHMARK... [options]
       trellis-bench sim --replicas N --ops M --seed S --out DIR [sim options]

benchmarks (each against a baseline measured in the same run):
  crdt-ingest   durable Replica::commit of batches of 100-byte puts (keys/s)
  crdt-merge    replay of a DAG of --blocks blocks into an empty replica (blocks/s)
  crdt-scan     Replica::scan("") over --keys keys (keys/s)
  all           the three above, in that order
  net-join      a fresh peer syncs --blocks blocks of 10 keys from a peer over
                loopback by sub-DAG streaming (blocks/s); baseline: one block
                per request, one in flight (stopped after 30 s)
  net-latency   commit on one of 5 peers to visible on all 5, p99 (ms); --keys
                sets the samples (500); baseline: the local commit alone
  tracker       pins/s a Tracker drives into a js-ipfs daemon it starts (blocks
                already local), from one Batch commit of --pins pins to an empty
                queue; baseline: the same pin/add calls in a bare sequential
                loop on one keep-alive connection (needs tools/ipfs-install)
  api-ingest    pins/s accepted by POST /pins/{{cid}}?replication=-1 on one of 3
                trellisd processes it starts (durable, no IPFS daemon), from
                --concurrency keep-alive clients, and the time until all 3 hold
                them; baseline: a 3-member etcd cluster it starts taking the
                same puts through POST /v3/kv/put with the same clients (needs
                trellisd, built next to trellis-bench, and etcd: apt-get
                install etcd-server)
  follow        1 trusted writer holding --pins pins (10,000, imported before
                it starts) and --followers trellisd followers (20) started
                together on loopback, no pinning: seconds until the last
                follower holds the writer's state, and the writer's bytes
                sent in copies of the DAG; baseline: one follower alone,
                first in the same run (needs trellisd next to trellis-bench)

end-to-end (real trellisd processes on loopback; a pinset of N pins is written
into a stopped peer's state folder first, as `trellisd state import` does,
allocated to an absent peer so that nothing is pinned):
  join          seconds until a fresh peer bootstrapped to one holding N pins
                (--sizes, default 1M) holds its state durably; baseline: the
                same keys and values copied over loopback TCP into raw LMDB,
                10,000 per synced transaction. Target ≤30 s at 1M
  latency       ms from POST /pins/{{cid}} on peer 0 of 5 to `get` finding it on
                all 5, p99 of --samples sequential requests (200); baseline: a
                put to the leader of 5 etcd members until a serializable get
                finds it on all 5. Target p99 ≤50 ms (needs etcd)
  list          pins/s streamed through GET /allocations from a peer holding N
                pins (--sizes, default 1M), warm cache; baseline: a cursor walk
                of raw LMDB holding the same keys and values. Target ≥1M/s
  footprint     disk and RSS bytes per pin of a peer holding N pins (--sizes,
                default 1M,10M; RSS after listing every pin); baseline: raw
                LMDB with the same keys and values (its size; the RSS a full
                scan adds). Measured once per size
  e2e           join, latency, list, footprint with their defaults

options:
  --keys N      keys written (crdt-ingest: 200,000; crdt-scan: 1,000,000)
  --batch B     puts per commit and per baseline transaction (10,000)
  --blocks N    crdt-merge: blocks in the source DAG (100,000)
  --feed N      crdt-merge: blocks per on_blocks call and per baseline txn (1,000)
  --merge-budget N  crdt-merge: the target's ReplicaOptions::merge_budget
                (blocks merged per transaction; default {})
  --oldest-first  crdt-merge: also time a replay in height order (Accept::any,
                as a CAR import would), reported as oldest_first_* fields
  --nosync      timed commits without fsync, on both sides (MDB_NOSYNC): the
                CPU-bound figure; the default is durable commits (api-ingest
                always runs both sides durable)
  --pins N      tracker: pins (2,000); api-ingest: pins and puts (10,000);
                follow: pins in the writer's state (10,000)
  --followers N follow: followers started together (20)
  --concurrency C  tracker: operations at once (the tracker's default, 10);
                api-ingest: client connections (64)
  --trellisd PATH  api-ingest, follow: the trellisd binary (default: found next to
                trellis-bench, build/daemon/trellisd)
  --sizes LIST  join, list, footprint: pinset sizes, e.g. 100k,300k,1M,3M,10M;
                one result per size (for tools/bench/plot.sh)
  --samples N   latency: sequential requests per run (200)
  --runs R      runs per benchmark; medians are reported (3)
  --seed S      data seed (1)
  --dir DIR     work directory (default: a temporary directory, removed after)
  --keep        leave the stores behind
  --json        one JSON object per benchmark per line on stdout
  -h, --help    this text

Progress goes to stderr; results to stdout. Exit status: 0 when every
benchmark ran and verified (targets missed do not fail it), 1 on an error,
2 on bad usage.
)";

std::string usage() {
  return fmt::format(fmt::runtime(kUsage), trellis::ReplicaOptions{}.merge_budget);
}

int usage_error(const std::string& message) {
  std::fprintf(stderr, "trellis-bench: %s\n(try trellis-bench --help)\n", message.c_str());
  return 2;
}

// A benchmark's results: one, or one per pinset size.
Result<std::vector<BenchResult>> run_one(const std::string& name, const Options& o,
                                         const WorkDir& work) {
  if (name == "join") return run_join(o, work);
  if (name == "latency") return run_latency(o, work);
  if (name == "list") return run_list(o, work);
  if (name == "footprint") return run_footprint(o, work);
  auto res = name == "crdt-ingest"   ? run_ingest(o, work)
             : name == "crdt-merge"  ? run_merge(o, work)
             : name == "net-join"    ? run_net_join(o, work)
             : name == "net-latency" ? run_net_latency(o, work)
             : name == "tracker"     ? run_tracker(o, work)
             : name == "api-ingest"  ? run_api_ingest(o, work)
             : name == "follow"      ? run_follow(o, work)
                                     : run_scan(o, work);
  if (!res) return res.status();
  return std::vector<BenchResult>{std::move(*res)};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "sim") == 0) return run_sim_command(argc - 2, argv + 2);

  Options o;
  std::vector<std::string> names;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::optional<uint64_t> n;
    if (a == "-h" || a == "--help") {
      std::fputs(usage().c_str(), stdout);
      return 0;
    } else if (a == "--keys") {
      if (!(n = count_arg(argc, argv, &i))) return 2;
      o.keys = *n;
    } else if (a == "--batch") {
      if (!(n = count_arg(argc, argv, &i))) return 2;
      o.batch = *n;
    } else if (a == "--blocks") {
      if (!(n = count_arg(argc, argv, &i))) return 2;
      o.blocks = *n;
    } else if (a == "--feed") {
      if (!(n = count_arg(argc, argv, &i))) return 2;
      o.feed = *n;
    } else if (a == "--pins") {
      if (!(n = count_arg(argc, argv, &i))) return 2;
      o.pins = *n;
    } else if (a == "--followers") {
      if (!(n = count_arg(argc, argv, &i))) return 2;
      o.followers = *n;
    } else if (a == "--concurrency") {
      if (!(n = count_arg(argc, argv, &i))) return 2;
      o.concurrency = *n;
    } else if (a == "--trellisd") {
      auto s = string_arg(argc, argv, &i);
      if (!s) return 2;
      o.trellisd = *s;
    } else if (a == "--sizes") {
      auto v = sizes_arg(argc, argv, &i);
      if (!v) return 2;
      o.sizes = *v;
    } else if (a == "--samples") {
      if (!(n = count_arg(argc, argv, &i))) return 2;
      o.samples = *n;
    } else if (a == "--runs") {
      if (!(n = count_arg(argc, argv, &i))) return 2;
      o.runs = *n;
    } else if (a == "--seed") {
      if (!(n = count_arg(argc, argv, &i, 0))) return 2;
      o.seed = *n;
    } else if (a == "--dir") {
      auto s = string_arg(argc, argv, &i);
      if (!s) return 2;
      o.dir = *s;
    } else if (a == "--keep") {
      o.keep = true;
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "--nosync") {
      o.sync = false;
    } else if (a == "--merge-budget") {
      if (!(n = count_arg(argc, argv, &i))) return 2;
      o.merge_budget = *n;
    } else if (a == "--oldest-first") {
      o.oldest_first = true;
    } else if (a == "all") {
      names.insert(names.end(), {"crdt-ingest", "crdt-merge", "crdt-scan"});
    } else if (a == "e2e") {
      names.insert(names.end(), {"join", "latency", "list", "footprint"});
    } else if (a == "join" || a == "latency" || a == "list" || a == "footprint") {
      names.push_back(a);
    } else if (a == "crdt-ingest" || a == "crdt-merge" || a == "crdt-scan" || a == "net-join" ||
               a == "net-latency" || a == "tracker" || a == "api-ingest" || a == "follow") {
      names.push_back(a);
    } else if (a == "sim") {
      return usage_error("sim must come first");
    } else if (!a.empty() && a[0] == '-') {
      return usage_error("unknown option " + a);
    } else {
      return usage_error("unknown benchmark " + a);
    }
  }
  if (names.empty()) {
    std::fputs(usage().c_str(), stderr);
    return 2;
  }

  auto work = WorkDir::create(o.dir, o.keep);
  if (!work) {
    std::fprintf(stderr, "trellis-bench: %s\n", work.status().to_string().c_str());
    return 1;
  }
  if (o.keep) std::fprintf(stderr, "trellis-bench: stores kept under %s\n", work->path().c_str());
  int rc = 0;
  for (const auto& name : names) {
    std::fprintf(stderr, "%s: %zu run%s...\n", name.c_str(), o.runs, o.runs == 1 ? "" : "s");
    auto res = run_one(name, o, *work);
    if (!res) {
      std::fprintf(stderr, "trellis-bench: %s failed: %s\n", name.c_str(),
                   res.status().to_string().c_str());
      rc = 1;
      continue;
    }
    for (const auto& r : *res) {
      if (o.json) {
        std::printf("%s\n", r.to_json().dump().c_str());
      } else {
        std::printf("%s\n", r.to_human().c_str());
        std::printf("%s\n", r.note().c_str());
      }
    }
    std::fflush(stdout);
  }
  return rc;
}
