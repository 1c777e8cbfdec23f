// Small argument helpers shared by trellis-bench's commands.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace trellis::bench {

// "1000000", "1_000_000" or "1,000,000"; nullopt if not a number.
std::optional<uint64_t> parse_count(std::string_view s);

// Reads the value of option `name` at argv[*i + 1], advancing *i. Prints a
// message and returns nullopt when it is missing or not a number.
std::optional<uint64_t> count_arg(int argc, char** argv, int* i, uint64_t min = 1);
std::optional<std::string> string_arg(int argc, char** argv, int* i);

// "100k,300k,1M,10000000": counts with an optional k (10^3) or M (10^6)
// suffix, comma-separated; nullopt (after a message) if any is not one.
std::optional<std::vector<size_t>> sizes_arg(int argc, char** argv, int* i);

}  // namespace trellis::bench
