#include "pinning/status.h"

#include <array>

namespace trellis::pinning {

namespace {

constexpr std::array<const char*, 12> kNames = {
    "undefined", "cluster_error", "pin_error", "unpin_error", "pinned",       "pinning",
    "unpinning", "unpinned",      "remote",    "pin_queued",  "unpin_queued", "unexpectedly_unpinned",
};

}  // namespace

const char* status_name(TrackerStatus s) { return kNames.at(static_cast<size_t>(s)); }

Result<TrackerStatus> parse_status(std::string_view s) {
  for (size_t i = 0; i < kNames.size(); i++)
    if (s == kNames[i]) return static_cast<TrackerStatus>(i);
  std::string all;
  for (size_t i = 1; i < kNames.size(); i++) all += std::string(i > 1 ? ", " : "") + kNames[i];
  return invalid("status \"" + std::string(s) + "\" is unknown; use one of " + all);
}

bool is_error(TrackerStatus s) {
  return s == TrackerStatus::pin_error || s == TrackerStatus::unpin_error ||
         s == TrackerStatus::unexpectedly_unpinned || s == TrackerStatus::cluster_error;
}

bool satisfies(IpfsPin ipfs, Mode mode) {
  if (ipfs == IpfsPin::recursive) return true;
  return mode == Mode::direct && ipfs == IpfsPin::direct;
}

TrackerStatus compute_status(const Pin* desired, std::string_view self, IpfsPin ipfs,
                             const OpView* op) {
  if (op) {
    bool pin = op->type == OpType::pin;
    switch (op->phase) {
      case Phase::queued: return pin ? TrackerStatus::pin_queued : TrackerStatus::unpin_queued;
      case Phase::in_progress: return pin ? TrackerStatus::pinning : TrackerStatus::unpinning;
      case Phase::error: return pin ? TrackerStatus::pin_error : TrackerStatus::unpin_error;
    }
  }
  if (!desired) return TrackerStatus::unpinned;
  if (!desired->allocated_to(self)) return TrackerStatus::remote;
  if (ipfs == IpfsPin::unknown) return TrackerStatus::cluster_error;
  if (satisfies(ipfs, desired->mode)) return TrackerStatus::pinned;
  return TrackerStatus::unexpectedly_unpinned;
}

}  // namespace trellis::pinning
