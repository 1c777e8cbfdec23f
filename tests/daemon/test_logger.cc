// trellisd's log: levels filter, text and JSON lines, components.
#include <doctest/doctest.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "daemon/logger.h"

using namespace trellis;

namespace {

// Everything `fn(logger)` writes, read back from a temporary file.
template <class F>
std::string captured(LogOptions o, F fn) {
  std::FILE* f = std::tmpfile();
  REQUIRE(f != nullptr);
  Logger logger(f);
  logger.set_options(o);
  fn(logger);
  std::rewind(f);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  std::fclose(f);
  return out;
}

}  // namespace

TEST_CASE("log: levels parse, and events below the configured level are dropped") {
  CHECK(*parse_log_level("debug") == LogLevel::debug);
  CHECK(*parse_log_level("error") == LogLevel::error);
  auto bad = parse_log_level("loud");
  REQUIRE(!bad.is_ok());
  CHECK(bad.status().message().find("error, warn, info or debug") != std::string::npos);

  std::string out = captured({LogLevel::warn, false}, [](const Logger& l) {
    LogFn net = l.component("net");
    net(LogLevel::debug, "d");
    net(LogLevel::info, "i");
    net(LogLevel::warn, "w");
    net(LogLevel::error, "e");
  });
  CHECK(out.find(": d\n") == std::string::npos);
  CHECK(out.find(": i\n") == std::string::npos);
  CHECK(out.find("WARN  net: w\n") != std::string::npos);
  CHECK(out.find("ERROR net: e\n") != std::string::npos);
}

TEST_CASE("log: a text line has a UTC timestamp, the level and the component") {
  Logger l;
  CHECK(l.format(LogLevel::info, "crdt", "merged 3 blocks", 1'795'000'000'123) ==
        "2026-11-18T11:06:40.123Z INFO  crdt: merged 3 blocks");
}

TEST_CASE("log: a JSON line is one object with time, level, component and msg") {
  std::string out = captured({LogLevel::debug, true}, [](const Logger& l) {
    l.write(LogLevel::debug, "restapi", "quote \" newline \n and bad utf-8 \xff");
  });
  REQUIRE(!out.empty());
  CHECK(out.back() == '\n');
  CHECK(out.find('\n') == out.size() - 1);  // the newline in msg is escaped
  auto j = nlohmann::json::parse(out);
  CHECK(j["level"] == "debug");
  CHECK(j["component"] == "restapi");
  CHECK(j["msg"].get<std::string>().starts_with("quote \" newline \n and bad utf-8 "));
  CHECK(j["time"].get<std::string>().ends_with("Z"));
}
