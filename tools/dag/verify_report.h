// trellis-dag verify: collects problems and warnings per check and prints
// them (text as they are found, capped per check; JSON at the end).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tools/dag/text.h"

namespace trellis::dag {

class VerifyReport {
 public:
  explicit VerifyReport(bool as_json) : json_(as_json) {}

  void problem(const std::string& check, const std::string& cid, const std::string& message);
  void warning(const std::string& check, const std::string& cid, const std::string& message);
  // A link of a not-yet-merged block that the replica is still fetching.
  void missing_wanted(const std::string& cid, const std::string& wanted_by);

  uint64_t problems() const { return problems_; }
  uint64_t warnings() const { return warnings_; }
  uint64_t problems_in(const std::string& check) const;
  uint64_t warnings_in(const std::string& check) const;
  uint64_t wanted_links() const { return wanted_; }

  // The JSON document: findings (capped), per-check counts, and `extra`.
  json to_json(json extra) const;

 private:
  void add(bool is_problem, const std::string& check, const std::string& cid,
           const std::string& message);

  bool json_;
  uint64_t problems_ = 0, warnings_ = 0, wanted_ = 0;
  std::map<std::string, uint64_t> problems_by_check_, warnings_by_check_;
  json findings_ = json::array();
  json wanted_list_ = json::array();
  bool truncated_ = false;
};

}  // namespace trellis::dag
