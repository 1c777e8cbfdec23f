// trellis-bench shared helpers: options, timing, peak RSS, deterministic keys
// and values, work directories and the result record every benchmark prints.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "crdt/bytes.h"
#include "crdt/status.h"

namespace trellis::bench {

// Command-line options shared by the benchmarks. Zero means "the benchmark's
// default" where a default depends on the benchmark.
struct Options {
  size_t keys = 0;            // crdt-ingest / crdt-scan: keys written
  size_t batch = 10'000;      // puts per commit / per baseline transaction
  size_t runs = 3;            // median of this many runs
  size_t blocks = 100'000;    // crdt-merge: blocks in the source DAG
  size_t feed = 1'000;        // crdt-merge: blocks per on_blocks call
  size_t merge_budget = 0;    // crdt-merge: ReplicaOptions::merge_budget; 0: its default
  bool oldest_first = false;  // crdt-merge: also time a topological replay
  bool sync = true;           // fsync timed commits (both sides); false: MDB_NOSYNC
  size_t pins = 0;            // tracker, api-ingest, follow: pins (0: the benchmark's default)
  size_t concurrency = 0;     // tracker, api-ingest: operations at once (0: its default)
  size_t followers = 0;       // follow: followers (0: the benchmark's default)
  std::string trellisd;       // api-ingest, follow, …: the trellisd binary; empty: next to trellis-bench
  std::vector<size_t> sizes;  // join, list, footprint: pinset sizes (empty: the benchmark's default)
  size_t samples = 0;         // latency: requests per run (0: the default)
  uint64_t seed = 1;
  std::string dir;    // work directory; empty: a fresh temp dir
  bool keep = false;  // leave the stores behind
  bool json = false;
};

// One benchmark's figures: the shape every benchmark prints.
struct BenchResult {
  std::string name;
  double value = 0;     // median over runs
  std::string unit;     // e.g. "keys/s"
  double baseline = 0;  // median baseline figure, same unit
  std::string baseline_name = "raw-lmdb";
  bool lower_is_better = false;  // latencies: targets are upper bounds
  double peak_rss_mb = 0;
  nlohmann::ordered_json detail = nlohmann::ordered_json::object();
  std::vector<double> run_values, run_baselines;  // per run, in run order
  std::string extra;                              // a human summary of the setup and detail figures
  std::optional<double> target_value;             // targets for this machine, if any
  std::optional<double> target_ratio;
  // A further target of the benchmark's own ("writer ≤4 copies"), with
  // whether it was met; part of target_met().
  std::string other_target;
  bool other_target_met = true;
  int decimals = 0;  // shown by to_human() and note(); 0: grouped whole numbers

  double ratio() const { return baseline > 0 ? value / baseline : 0; }
  bool target_met() const {
    bool value_ok = !target_value || (lower_is_better ? value <= *target_value : value >= *target_value);
    return value_ok && (!target_ratio || ratio() >= *target_ratio) && other_target_met;
  }
  std::string shown(double v) const;  // grouped(v), or with `decimals`
  nlohmann::ordered_json to_json() const;
  std::string to_human() const;  // the one-line summary
  std::string note() const;      // the runs and setup, indented
};

// ---- timing ----

class Stopwatch {
 public:
  void start() { t0_ = std::chrono::steady_clock::now(); }
  void stop() { total_ += std::chrono::steady_clock::now() - t0_; }
  double seconds() const { return std::chrono::duration<double>(total_).count(); }

 private:
  std::chrono::steady_clock::time_point t0_{};
  std::chrono::steady_clock::duration total_{};
};

double median(std::vector<double> v);

// ---- memory ----

// Resets the kernel's peak-RSS mark (VmHWM) to the current RSS so that a
// later peak_rss_mb() covers only what follows. False where unsupported;
// peak_rss_mb() then reports the process-wide peak (getrusage).
bool reset_peak_rss();
double peak_rss_mb();     // VmHWM, or ru_maxrss when VmHWM is unavailable
double current_rss_mb();  // VmRSS
// The peak over the whole process so far, across resets (resetting VmHWM
// also resets getrusage's ru_maxrss, so the peaks seen are remembered).
double process_peak_rss_mb();
// CPU seconds this process has used (user + system): a client side's cost.
double process_cpu_seconds();

// Bytes this process handed to write(2)/pwrite(2) so far (/proc/self/io
// wchar): what LMDB wrote, before the page cache; 0 where unavailable.
uint64_t bytes_written();

// ---- data ----

inline constexpr size_t kValueBytes = 100;

// Deterministic keys and values: key i and value i depend only on (seed, i,
// stream), so the Trellis run and the raw-LMDB baseline see the same data.
// Keys look like pinset entries: "/pins/" + 52 base32 characters of 32
// random bytes (58 bytes, the size of a CID in text).
class DataGen {
 public:
  explicit DataGen(uint64_t seed) : seed_(seed) {}
  std::string key(uint64_t i) const;
  void value(uint64_t i, uint8_t* out, uint64_t stream = 0) const;
  Bytes value(uint64_t i, uint64_t stream = 0) const;

 private:
  uint64_t seed_;
};

// A small fast PRNG for choices (splitmix64).
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next();
  uint64_t below(uint64_t n) { return n ? next() % n : 0; }

 private:
  uint64_t s_;
};

// ---- files ----

// The benchmark work directory: --dir, or a fresh directory under $TMPDIR.
// Removes what it created on destruction unless told to keep it.
class WorkDir {
 public:
  static Result<WorkDir> create(const std::string& dir, bool keep);
  WorkDir(WorkDir&&) noexcept;
  WorkDir& operator=(WorkDir&&) = delete;
  ~WorkDir();

  const std::filesystem::path& path() const { return root_; }
  // A fresh empty subdirectory path (removed first if it exists).
  std::string fresh(const std::string& name) const;
  // Removes a subdirectory now unless keeping.
  void drop(const std::string& sub) const;

 private:
  WorkDir() = default;
  std::filesystem::path root_;
  bool keep_ = false;
  bool owned_ = false;  // we created root_ (temp dir): remove it entirely
  bool moved_ = false;
};

// Size of a store's data.mdb in MB (0 if absent).
double store_mb(const std::string& dir);

// ---- output ----

// 1234567.8 → "1,234,568".
std::string grouped(double v);

}  // namespace trellis::bench
