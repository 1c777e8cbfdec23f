// The seed sweep: run_simulation over many seeds, every one must converge.
//
// Environment:
//   TRELLIS_SIM_SEEDS=N   seeds 1..N (default 1000)
//   TRELLIS_SIM_SEED=S    only seed S (prints its report)
//   TRELLIS_SIM_TRACE=1   print every workload and fault event
//   TRELLIS_SIM_KEEP=1    keep the replica directories (printed)
//   TRELLIS_SIM_REPLICAS, TRELLIS_SIM_OPS   override the per-seed choice
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "tests/sim/common.h"

namespace trellis::sim::test {
namespace {

uint64_t parse_u64(const std::string& s, const char* what) {
  char* end = nullptr;
  unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (!end || *end || s.empty()) FAIL(what << " is not a number: " << s);
  return v;
}

// The configuration of one seed: 3-5 replicas and 40-120 operations, drawn
// from the seed so that a seed alone names the whole run.
SimConfig config_for(uint64_t seed) {
  SimConfig cfg;
  cfg.seed = seed;
  uint64_t h = seed * 0x9e3779b97f4a7c15ULL;
  h ^= h >> 29;
  cfg.replicas = 3 + h % 3;
  cfg.ops = 40 + (h >> 8) % 81;
  if (auto r = env("TRELLIS_SIM_REPLICAS")) cfg.replicas = parse_u64(*r, "TRELLIS_SIM_REPLICAS");
  if (auto o = env("TRELLIS_SIM_OPS")) cfg.ops = parse_u64(*o, "TRELLIS_SIM_OPS");
  cfg.keep = env("TRELLIS_SIM_KEEP").has_value();
  if (env("TRELLIS_SIM_TRACE"))
    cfg.trace = [](std::string_view line) { std::cerr << "  " << line << "\n"; };
  return cfg;
}

std::string rerun_command(uint64_t seed) {
  return fmt::format("TRELLIS_SIM_SEED={} {} --test-case='simulation sweep'", seed, g_argv0);
}

}  // namespace

TEST_CASE("simulation sweep") {
  auto started = std::chrono::steady_clock::now();
  std::vector<uint64_t> seeds;
  if (auto one = env("TRELLIS_SIM_SEED")) {
    seeds.push_back(parse_u64(*one, "TRELLIS_SIM_SEED"));
  } else {
    uint64_t n = 1000;
    if (auto s = env("TRELLIS_SIM_SEEDS")) n = parse_u64(*s, "TRELLIS_SIM_SEEDS");
    for (uint64_t s = 1; s <= n; ++s) seeds.push_back(s);
  }

  SimReport total;
  std::vector<uint64_t> failed;
  size_t ran = 0;
  for (uint64_t seed : seeds) {
    ++ran;
    SimConfig cfg = config_for(seed);
    auto rep = run_simulation(cfg);
    REQUIRE_MESSAGE(rep.is_ok(), "seed " << seed << ": " << (rep ? "" : rep.status().to_string()));
    if (seeds.size() == 1 || cfg.keep)
      std::cout << fmt::format("simulation seed {} ({} replicas, {} ops): {}\n", seed, cfg.replicas,
                               cfg.ops, summary(*rep));
    if (!rep->converged) {
      failed.push_back(seed);
      std::cout << "simulation: FAILED " << rep->detail << "\n"
                << "  re-run alone: " << rerun_command(seed) << "\n"
                << "  with a trace: TRELLIS_SIM_TRACE=1 " << rerun_command(seed) << "\n";
      std::cout.flush();
      if (failed.size() >= 5) break;  // enough to work on
      continue;
    }
    total.messages += rep->messages;
    total.dropped += rep->dropped;
    total.duplicated += rep->duplicated;
    total.crashes += rep->crashes;
    total.failed_writes += rep->failed_writes;
    total.partitions += rep->partitions;
    total.writes += rep->writes;
    if (rep->max_map_size > cfg.initial_map_size) ++total.blocks;  // seeds that grew the map
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (failed.empty()) {
    std::cout << fmt::format(
        "simulation: {} seeds passed ({} writes, {} messages, {} dropped, {} duplicated, {} "
        "crashes, {} failed writes, {} partitions, {} seeds grew the map; {:.1f} s)\n",
        seeds.size(), total.writes, total.messages, total.dropped, total.duplicated, total.crashes,
        total.failed_writes, total.partitions, total.blocks, secs);
  } else {
    std::string list;
    for (uint64_t s : failed) list += " " + std::to_string(s);
    std::cout << fmt::format(
        "simulation: {} of {} seeds failed:{}{}\n", failed.size(), ran, list,
        ran < seeds.size() ? fmt::format(" (stopped; {} seeds not run)", seeds.size() - ran) : "");
  }
  CHECK_MESSAGE(failed.empty(),
                "failing seeds; re-run one with " << rerun_command(failed.empty() ? 0 : failed[0]));
}

}  // namespace trellis::sim::test
