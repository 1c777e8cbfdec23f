#include "daemon/logger.h"

#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>

namespace trellis {

Result<LogLevel> parse_log_level(std::string_view name) {
  if (name == "debug") return LogLevel::debug;
  if (name == "info") return LogLevel::info;
  if (name == "warn") return LogLevel::warn;
  if (name == "error") return LogLevel::error;
  return invalid("\"" + std::string(name) + "\" is not error, warn, info or debug");
}

const char* log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
  }
  return "info";
}

namespace {

std::string utc_millis(int64_t unix_ms) {
  std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(unix_ms % 1000));
  return buf;
}

}  // namespace

std::string Logger::format(LogLevel level, std::string_view component, std::string_view msg,
                           int64_t unix_ms) const {
  std::string time = utc_millis(unix_ms);
  if (opts_.json) {
    nlohmann::json j{{"time", time},
                     {"level", log_level_name(level)},
                     {"component", component},
                     {"msg", msg}};
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  std::string name = log_level_name(level);
  for (char& c : name) c = static_cast<char>(c - 'a' + 'A');
  name.resize(5, ' ');
  std::string line = time + " " + name + " ";
  line.append(component);
  line += ": ";
  line.append(msg);
  return line;
}

void Logger::write(LogLevel level, std::string_view component, std::string_view msg) const {
  if (!enabled(level)) return;
  auto now = std::chrono::system_clock::now().time_since_epoch();
  std::string line =
      format(level, component, msg, std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
}

LogFn Logger::component(std::string name) const {
  return [this, name = std::move(name)](LogLevel level, const std::string& msg) {
    write(level, name, msg);
  };
}

}  // namespace trellis
