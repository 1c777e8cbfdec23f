// Helpers shared by the simulation tests.
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "tools/sim/cluster.h"
#include "tools/sim/simulator.h"

namespace trellis::sim::test {

// argv[0] of the test binary, for printing re-run commands.
extern std::string g_argv0;

inline Bytes bytes_of(std::string_view s) {
  return Bytes(s.begin(), s.end());
}

inline std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

// A cluster without faults: messages delayed 1..max_delay ms (so reordered).
inline std::unique_ptr<Cluster> make_cluster(size_t replicas, uint64_t seed = 1,
                                             NetConfig net = {}) {
  ClusterOptions o;
  o.replicas = replicas;
  o.seed = seed;
  o.net = net;
  auto c = Cluster::create(o);
  REQUIRE_MESSAGE(c.is_ok(), (c ? "" : c.status().to_string()));
  return std::move(*c);
}

inline std::optional<Bytes> get(Cluster& c, size_t i, std::string_view key) {
  auto v = c.replica(i).get(key);
  REQUIRE_MESSAGE(v.is_ok(), (v ? "" : v.status().to_string()));
  return *v;
}

// Every replica up, no errors, quiet within the bound, and identical.
inline void settle(Cluster& c, size_t max_steps = 2'000'000) {
  bool quiet = c.run_until_quiet(max_steps);
  INFO(c.describe());
  REQUIRE_MESSAGE(c.errors().empty(), (c.errors().empty() ? "" : c.errors().front()));
  REQUIRE(quiet);
  std::string diff = c.compare();
  REQUIRE_MESSAGE(diff.empty(), diff);
}

// A temporary directory removed on destruction.
class TempDir {
 public:
  TempDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/trellis-simtest-XXXXXX";
    REQUIRE(mkdtemp(templ.data()) != nullptr);
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace trellis::sim::test
