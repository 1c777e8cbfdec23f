// Parsers of HTTP API input that need no I/O, kept here so they can be
// fuzzed (fuzz/fuzz_api_input.cc): the request target (path and query) and
// the Pinning Service API's Pin body and list query. Bounded by their input,
// which the HTTP server caps (max_header_bytes, max_body_bytes).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crdt/status.h"
#include "pinning/pin.h"

namespace trellis::pinning {

using QueryParams = std::vector<std::pair<std::string, std::string>>;  // decoded, in order

struct Target {
  std::string path;  // percent-decoded
  QueryParams query;
};

// "/path?a=1&b=2" → path and query ('+' is a space in the query);
// nullopt on malformed percent-encoding.
std::optional<Target> parse_target(std::string_view target);

// A Pin object of the Pinning Service API spec from a request body.
Result<Pin> pin_of_body(const std::string& body);

inline constexpr size_t kMaxListLimit = 1000;

// The filters of the Pinning Service API's GET /pins.
struct PinQuery {
  std::vector<std::string> cids, statuses;
  std::string name, match = "exact";
  int64_t before = 0, after = 0;  // unix ns; 0 = unset
  size_t limit = 10;
  std::map<std::string, std::string> meta;  // from meta={json} and meta[k]=v
};

Result<PinQuery> parse_pin_query(const QueryParams& params);

}  // namespace trellis::pinning
