// trellis-dag: parsing of a command's own arguments (after COMMAND).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tools/dag/cli.h"

namespace trellis::dag {

struct ParsedArgs {
  std::vector<std::string> positional;
  std::map<std::string, std::string, std::less<>> options;  // "--from" → value; flags → ""

  bool has(std::string_view name) const { return options.find(name) != options.end(); }
  // The value of an option, or nullopt if absent.
  std::optional<std::string> get(std::string_view name) const;
};

struct ArgSpec {
  std::initializer_list<std::string_view> with_value = {};  // e.g. {"--from", "--limit"}
  std::initializer_list<std::string_view> flags = {};       // e.g. {"--all"}
  size_t min_positional = 0;
  size_t max_positional = 0;
  const char* positional_names = "";  // for messages, e.g. "CID"
};

// Accepts "--name value", "--name=value" and "--" (end of options). On a bad
// command line prints a usage error and returns nullopt.
std::optional<ParsedArgs> parse_args(std::string_view command, Args args, const ArgSpec& spec);

// Parses a non-negative decimal number ("12"); nullopt if malformed.
std::optional<uint64_t> parse_count(std::string_view text);

}  // namespace trellis::dag
