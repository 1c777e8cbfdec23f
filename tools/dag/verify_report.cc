#include "tools/dag/verify_report.h"

#include <fmt/format.h>

namespace trellis::dag {

namespace {

constexpr uint64_t kPrintedPerCheck = 20;  // text lines per check and severity
constexpr size_t kJsonFindings = 1000;     // findings kept for --json

}  // namespace

void VerifyReport::add(bool is_problem, const std::string& check, const std::string& cid,
                       const std::string& message) {
  auto& by_check = is_problem ? problems_by_check_ : warnings_by_check_;
  uint64_t n = ++by_check[check];
  ++(is_problem ? problems_ : warnings_);
  if (json_) {
    if (findings_.size() < kJsonFindings) {
      json f{
          {"severity", is_problem ? "problem" : "warning"}, {"check", check}, {"message", message}};
      if (!cid.empty()) f["cid"] = cid;
      findings_.push_back(std::move(f));
    } else {
      truncated_ = true;
    }
    return;
  }
  const char* label = is_problem ? "PROBLEM" : "warning";
  if (n <= kPrintedPerCheck) {
    if (cid.empty())
      fmt::print("{} [{}] {}\n", label, check, message);
    else
      fmt::print("{} [{}] {}: {}\n", label, check, cid, message);
  } else if (n == kPrintedPerCheck + 1) {
    fmt::print("{} [{}] … further ones are counted, not shown\n", label, check);
  }
}

void VerifyReport::problem(const std::string& check, const std::string& cid,
                           const std::string& message) {
  add(true, check, cid, message);
}

void VerifyReport::warning(const std::string& check, const std::string& cid,
                           const std::string& message) {
  add(false, check, cid, message);
}

void VerifyReport::missing_wanted(const std::string& cid, const std::string& wanted_by) {
  ++wanted_;
  if (json_) {
    if (wanted_list_.size() < kJsonFindings)
      wanted_list_.push_back({{"cid", cid}, {"linked_by", wanted_by}});
    else
      truncated_ = true;
    return;
  }
  if (wanted_ <= kPrintedPerCheck)
    fmt::print("missing (wanted) {} (link of pending block {})\n", cid, wanted_by);
  else if (wanted_ == kPrintedPerCheck + 1)
    fmt::print("missing (wanted) … further ones are counted, not shown\n");
}

uint64_t VerifyReport::problems_in(const std::string& check) const {
  auto it = problems_by_check_.find(check);
  return it == problems_by_check_.end() ? 0 : it->second;
}

uint64_t VerifyReport::warnings_in(const std::string& check) const {
  auto it = warnings_by_check_.find(check);
  return it == warnings_by_check_.end() ? 0 : it->second;
}

json VerifyReport::to_json(json extra) const {
  json j = std::move(extra);
  j["ok"] = problems_ == 0;
  j["problems"] = problems_;
  j["warnings"] = warnings_;
  j["problems_by_check"] = problems_by_check_;
  j["warnings_by_check"] = warnings_by_check_;
  j["findings"] = findings_;
  j["missing_wanted"] = wanted_list_;
  j["missing_wanted_count"] = wanted_;
  j["truncated"] = truncated_;
  return j;
}

}  // namespace trellis::dag
