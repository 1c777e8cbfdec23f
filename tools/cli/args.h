// Command-line parsing for the trellis CLI: options declared per command,
// "--opt value" and "--opt=value", "-h" for "--help", "--" ends options.
// Errors throw cli::Failure with kUsage.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace trellis::cli {

struct OptionSpec {
  const char* name;  // without the leading "--"
  bool takes_value;  // false: a flag
  bool repeated;     // may be given several times (values kept in order)
};

struct Parsed {
  std::map<std::string, std::vector<std::string>> values;  // flags hold one ""
  std::vector<std::string> positional;

  bool has(const std::string& name) const { return values.count(name) != 0; }
  // The value of a single-valued option, if given.
  std::optional<std::string> get(const std::string& name) const;
  const std::vector<std::string>& all(const std::string& name) const;
};

// Parses args against specs. An unknown option, a missing value, or a
// non-repeatable option given twice is a usage error.
Parsed parse_args(const std::vector<std::string>& args, const std::vector<OptionSpec>& specs);

// Go-style durations as IPFS Cluster uses them: "500ms", "30s", "2m",
// "1h30m", "1.5h" (units ms, s, m, h; a bare number is seconds). Throws a
// usage error naming `what` on anything else.
std::chrono::milliseconds parse_duration(const std::string& text, const std::string& what);

// A non-negative decimal (or -1 when allow_minus_one); usage error otherwise.
int parse_int(const std::string& text, const std::string& what, bool allow_minus_one);

std::vector<std::string> split(const std::string& s, char sep);

}  // namespace trellis::cli
