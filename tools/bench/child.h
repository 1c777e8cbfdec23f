// Child processes for benchmarks that run real daemons (trellisd, etcd):
// each child runs in a process group of its own, with stderr (and stdout
// unless it is read) appended to a log file, and dies with the benchmark
// (PR_SET_PDEATHSIG). Stopping sends SIGTERM to the group, then SIGKILL.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "crdt/status.h"

namespace trellis::bench {

class Child {
 public:
  Child() = default;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  Child(Child&& o) noexcept;
  Child& operator=(Child&& o) noexcept;
  ~Child();  // stop()

  // Starts argv[0] (looked up in PATH when it has no '/'). With read_stdout
  // the child's stdout is a pipe for read_line(); otherwise it goes to `log`.
  static Result<Child> start(const std::vector<std::string>& argv, const std::string& log,
                             bool read_stdout);

  // The next line of stdout that starts with `prefix` (other lines are
  // skipped), without the newline. Fails when the child closes stdout or
  // `limit` passes.
  Result<std::string> read_line(const std::string& prefix, std::chrono::milliseconds limit);

  // SIGTERM to the group without waiting (stop several children at once).
  void terminate() const;
  // SIGTERM to the group, SIGKILL to the group after `grace`, then reaped.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(10'000));
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  // user + system CPU seconds of the child so far (/proc/PID/stat); 0 if gone.
  double cpu_seconds() const;
  // The child's peak resident set (VmHWM) in MB; 0 if gone.
  double peak_rss_mb() const;
  // A "Field:   1234 kB" line of the child's /proc/PID/status in MB ("VmRSS",
  // "RssAnon", "RssFile", "VmHWM"); 0 if gone or absent.
  double status_mb(const char* field) const;

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string pending_;  // stdout read but not yet returned
};

// Runs a command to completion (stdout captured, stderr to `log`); fails
// with the exit status when it is not 0.
Result<std::string> run_command(const std::vector<std::string>& argv, const std::string& log);

// n distinct loopback TCP ports that were free a moment ago.
Result<std::vector<uint16_t>> free_ports(size_t n);

// The last `n` lines of a file, for error messages.
std::string tail_of(const std::string& path, size_t n = 15);

}  // namespace trellis::bench
