// trellisd's log: one line per event on stderr, with a UTC timestamp, the
// level and the component that reported it, either as text
//   2026-11-27T01:02:03.123Z INFO  net: connected to 12D3… at 127.0.0.1:9096
// or, with log.format = "json", as one JSON object per line
//   {"time":"2026-11-27T01:02:03.123Z","level":"info","component":"net","msg":"…"}
// Events below log.level are dropped before they are formatted.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

#include "crdt/log.h"
#include "crdt/status.h"

namespace trellis {

Result<LogLevel> parse_log_level(std::string_view name);  // error, warn, info, debug
const char* log_level_name(LogLevel level);

struct LogOptions {
  LogLevel level = LogLevel::info;
  bool json = false;
};

class Logger {
 public:
  explicit Logger(std::FILE* out = stderr) : out_(out) {}
  void set_options(LogOptions o) { opts_ = o; }
  bool enabled(LogLevel level) const { return level >= opts_.level; }
  void write(LogLevel level, std::string_view component, std::string_view msg) const;
  // The line write() would print (without its newline), at time `unix_ms`.
  std::string format(LogLevel level, std::string_view component, std::string_view msg,
                     int64_t unix_ms) const;
  // A LogFn that reports as `component`. The Logger must outlive it.
  LogFn component(std::string name) const;

 private:
  std::FILE* out_;
  LogOptions opts_;
};

}  // namespace trellis
