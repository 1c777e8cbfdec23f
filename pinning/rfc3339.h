// RFC 3339 timestamps as IPFS Cluster's JSON has them: UTC, nanoseconds with
// trailing zeros trimmed, and Go's zero time for "never".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "crdt/status.h"

namespace trellis::pinning {

inline constexpr std::string_view kZeroTime = "0001-01-01T00:00:00Z";

// Unix nanoseconds → "2024-05-01T12:34:56.5Z"; 0 → kZeroTime.
std::string format_rfc3339(int64_t unix_ns);
// The same written at p, which has room for kRfc3339Max characters; returns
// the end.
inline constexpr size_t kRfc3339Max = 30;  // "2262-04-11T23:47:16.854775807Z"
char* write_rfc3339(int64_t unix_ns, char* p);
// "2030-01-02T15:04:05Z", "…05.25+02:00" → unix nanoseconds; kZeroTime → 0.
Result<int64_t> parse_rfc3339(std::string_view text);
// A Go duration ("90s", "1h30m", "1.5h", "250ms"), also with days ("7d"),
// → nanoseconds.
Result<int64_t> parse_duration(std::string_view text);

int64_t unix_now_ns();

}  // namespace trellis::pinning
