// The fields of config.json, as a table (private to daemon/config.cc).
//
// Each field lives in a section ("cluster", "ipfs", …) and knows how to
// write its value as JSON and how to read it back with validation. Errors
// from set() name no field: the caller prefixes "section.field" or the
// environment variable's name.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "daemon/config.h"

namespace trellis::config {

// How a TRELLIS_<SECTION>_<FIELD> environment value becomes JSON.
enum class Kind {
  text,     // as is
  count,    // a non-negative integer
  integer,  // a signed integer
  flag,     // true|false|1|0
  list,     // comma-separated; "" is the empty list
  map,      // k=v,k=v or a JSON object
};

struct Field {
  const char* section;
  const char* name;
  Kind kind;
  std::function<nlohmann::json(DaemonConfig&)> get;
  std::function<Status(DaemonConfig&, const nlohmann::json&)> set;
};

// Every field in the order config.json lists them.
const std::vector<Field>& fields();

// Checks between fields, after every field is set.
Status check(const DaemonConfig& c);

}  // namespace trellis::config
