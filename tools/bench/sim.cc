// `trellis-bench sim`: runs one seeded simulation (tools/sim) and leaves
// every replica's store under --out for inspection with trellis-dag.
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

#include "tools/bench/args.h"
#include "tools/bench/benchmarks.h"
#include "tools/sim/simulator.h"

namespace trellis::bench {

namespace {

constexpr const char* kSimUsage = R"(usage: trellis-bench sim [options]

Runs one seeded simulation of N replicas under random operations and network
faults, checks that they converge, and prints a summary. Exits 1 when they do
not converge (or the run fails), 2 on bad usage.

options:
  --replicas N  replicas ({})
  --ops M       operations ({})
  --seed S      seed ({}); the same seed replays the same run
  --out DIR     leave each replica's store in DIR (inspect with trellis-dag);
                default: a temporary directory, removed after
  --keys K      size of the key space ({})
  --no-faults   no drops, duplicates, partitions or crashes
  --sync        fsync every commit (slow; off by default)
  --json        print the summary as one JSON object
  -h, --help    this text
)";

namespace fs = std::filesystem;

// The simulator names its replica directories r0, r1, ...: rename them to
// replica-0, replica-1, ... and return them in replica order.
std::vector<std::string> name_stores(const std::string& dir) {
  std::vector<std::pair<size_t, std::string>> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    if (!e.is_directory() || !fs::exists(e.path() / "data.mdb")) continue;
    std::optional<uint64_t> k;
    if (name.size() > 1 && name[0] == 'r' && name.find_first_not_of("0123456789", 1) == name.npos)
      k = parse_count(name.substr(1));
    if (!k) {
      found.emplace_back(SIZE_MAX, e.path().string());
      continue;
    }
    fs::path to = fs::path(dir) / fmt::format("replica-{}", *k);
    std::error_code rename_ec;
    fs::rename(e.path(), to, rename_ec);
    found.emplace_back(*k, rename_ec ? e.path().string() : to.string());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& f : found) out.push_back(std::move(f.second));
  return out;
}

}  // namespace

int run_sim_command(int argc, char** argv) {
  sim::SimConfig cfg;  // the simulator's defaults unless overridden
  bool json = false;
  std::string out;
  // argv holds the arguments after "sim"; count_arg reads argv[i + 1].
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    std::optional<uint64_t> n;
    if (a == "-h" || a == "--help") {
      const sim::SimConfig def;
      std::fputs(
          fmt::format(fmt::runtime(kSimUsage), def.replicas, def.ops, def.seed, def.keys).c_str(),
          stdout);
      return 0;
    } else if (a == "--replicas") {
      if (!(n = count_arg(argc, argv, &i))) return 2;
      cfg.replicas = *n;
    } else if (a == "--ops") {
      if (!(n = count_arg(argc, argv, &i, 0))) return 2;
      cfg.ops = *n;
    } else if (a == "--seed") {
      if (!(n = count_arg(argc, argv, &i, 0))) return 2;
      cfg.seed = *n;
    } else if (a == "--out") {
      auto s = string_arg(argc, argv, &i);
      if (!s) return 2;
      out = *s;
    } else if (a == "--keys") {
      if (!(n = count_arg(argc, argv, &i))) return 2;
      cfg.keys = *n;
    } else if (a == "--no-faults") {
      cfg.faults = false;
    } else if (a == "--sync") {
      cfg.sync = true;
    } else if (a == "--json") {
      json = true;
    } else {
      std::fprintf(stderr,
                   "trellis-bench sim: unknown argument %s\n(try trellis-bench sim --help)\n",
                   a.c_str());
      return 2;
    }
  }
  if (!out.empty()) {
    std::error_code ec;
    fs::create_directories(out, ec);
    if (ec) {
      std::fprintf(stderr, "trellis-bench sim: cannot create %s: %s\n", out.c_str(),
                   ec.message().c_str());
      return 1;
    }
    if (!fs::is_empty(out, ec)) {
      std::fprintf(stderr,
                   "trellis-bench sim: %s is not empty; give an empty or new directory so the "
                   "stores left there are this run's\n",
                   out.c_str());
      return 2;
    }
  }
  cfg.dir = out;
  cfg.keep = !out.empty();

  reset_peak_rss();
  auto rep = sim::run_simulation(cfg);
  if (!rep) {
    std::fprintf(stderr, "trellis-bench sim: %s\n", rep.status().to_string().c_str());
    return 1;
  }
  const auto& r = *rep;
  double rss = peak_rss_mb();
  std::vector<std::string> stores = out.empty() ? std::vector<std::string>{} : name_stores(out);
  if (json) {
    nlohmann::ordered_json j;
    j["name"] = "sim";
    j["value"] = r.seconds > 0 ? static_cast<double>(cfg.ops) / r.seconds : 0.0;
    j["unit"] = "ops/s";
    j["baseline"] = nullptr;
    j["ratio"] = nullptr;
    j["peak_rss_mb"] = rss;
    j["converged"] = r.converged;
    j["detail"] = r.detail;
    j["replicas"] = cfg.replicas;
    j["ops"] = cfg.ops;
    j["seed"] = cfg.seed;
    j["faults"] = cfg.faults;
    j["messages"] = r.messages;
    j["dropped"] = r.dropped;
    j["duplicated"] = r.duplicated;
    j["crashes"] = r.crashes;
    j["partitions"] = r.partitions;
    j["blocks"] = r.blocks;
    j["seconds"] = r.seconds;
    j["writes"] = r.writes;
    j["failed_writes"] = r.failed_writes;
    j["steps"] = r.steps;
    j["virtual_ms"] = r.virtual_ms;
    j["stores"] = stores;
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("sim: %zu replicas, %s ops, seed %llu, faults %s: %s in %.2f s\n", cfg.replicas,
                grouped(static_cast<double>(cfg.ops)).c_str(),
                static_cast<unsigned long long>(cfg.seed), cfg.faults ? "on" : "off",
                r.converged ? "converged" : "NOT CONVERGED", r.seconds);
    std::printf(
        "  messages %s (dropped %s, duplicated %s), crashes %zu, partitions %zu, "
        "blocks %s, peak RSS %.0f MB\n",
        grouped(static_cast<double>(r.messages)).c_str(),
        grouped(static_cast<double>(r.dropped)).c_str(),
        grouped(static_cast<double>(r.duplicated)).c_str(), r.crashes, r.partitions,
        grouped(static_cast<double>(r.blocks)).c_str(), rss);
    std::printf("  %s local writes (%s failed by injection), %s steps, %s virtual ms\n",
                grouped(static_cast<double>(r.writes)).c_str(),
                grouped(static_cast<double>(r.failed_writes)).c_str(),
                grouped(static_cast<double>(r.steps)).c_str(),
                grouped(static_cast<double>(r.virtual_ms)).c_str());
    if (!r.detail.empty()) std::printf("  %s\n", r.detail.c_str());
    if (!stores.empty()) {
      std::printf("  stores (inspect with trellis-dag):\n");
      for (const auto& s : stores) std::printf("    %s\n", s.c_str());
    }
  }
  return r.converged ? 0 : 1;
}

}  // namespace trellis::bench
