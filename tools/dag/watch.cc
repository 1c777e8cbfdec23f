#include "tools/dag/watch.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <thread>

#include "tools/dag/args.h"
#include "tools/dag/store_dir.h"
#include "tools/dag/text.h"

namespace trellis::dag {

namespace {

std::string local_time_now() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S%z", &tm);
  return std::string(buf, n);
}

void print_header(const Context& ctx, uint64_t snapshot) {
  const LockHolder holder = lock_holder(ctx.lock_file);
  const std::string time = local_time_now();
  if (ctx.json) {
    json j{{"snapshot", snapshot}, {"time", time}, {"lock", ctx.lock_file}, {"held", holder.held}};
    j["pid"] = holder.pid ? json(*holder.pid) : json();
    fmt::print("{}\n", dump(j));
    return;
  }
  std::string who = !holder.held ? "no process holds " + ctx.lock_file
                    : holder.pid ? fmt::format("daemon PID {} holds {}", *holder.pid, ctx.lock_file)
                                 : "a process (PID unknown) holds " + ctx.lock_file;
  fmt::print("=== snapshot {} at {}: {}\n", snapshot, time, who);
}

}  // namespace

std::optional<WatchOptions> watch_options(const std::optional<std::string>& interval,
                                          const std::optional<std::string>& count) {
  WatchOptions opts;
  if (interval) {
    const char* end = interval->data() + interval->size();
    auto [stop, ec] = std::from_chars(interval->data(), end, opts.interval_seconds);
    if (ec != std::errc() || stop != end || !(opts.interval_seconds > 0)) {
      usage_error("", "--interval needs a positive number of seconds");
      return std::nullopt;
    }
  }
  if (count) {
    opts.count = parse_count(*count);
    if (!opts.count || *opts.count == 0) {
      usage_error("", "--count needs a positive number");
      return std::nullopt;
    }
  }
  return opts;
}

int watch(const Context& ctx, const WatchOptions& opts, const std::function<int()>& once) {
  const auto interval = std::chrono::duration<double>(opts.interval_seconds);
  int worst = kExitOk;
  for (uint64_t n = 1; !opts.count || n <= *opts.count; ++n) {
    if (n > 1) std::this_thread::sleep_for(interval);
    print_header(ctx, n);
    int rc = once();
    std::fflush(stdout);
    worst = std::max(worst, rc);
    if (rc == kExitUsage) break;
  }
  return worst;
}

}  // namespace trellis::dag
