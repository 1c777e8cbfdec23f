// Status computation from (state, IPFS pin list, operation): every status.
#include <doctest/doctest.h>

#include "pinning/status.h"

using namespace trellis;
using namespace trellis::pinning;

namespace {

Pin pin_for(std::vector<std::string> allocations, Mode mode = Mode::recursive) {
  Pin p;
  p.cid = Cid::sha256(kCodecRaw, ByteView(reinterpret_cast<const uint8_t*>("s"), 1));
  p.mode = mode;
  p.max_depth = mode == Mode::direct ? 0 : -1;
  p.replication_factor_min = p.replication_factor_max = static_cast<int32_t>(allocations.size());
  p.allocations = std::move(allocations);
  return p;
}

}  // namespace

TEST_CASE("every status comes out of compute_status") {
  Pin mine = pin_for({"me", "other"});
  Pin theirs = pin_for({"other"});
  Pin everywhere = pin_for({});
  everywhere.replication_factor_min = everywhere.replication_factor_max = -1;
  Pin direct = pin_for({"me"}, Mode::direct);

  auto st = [](const Pin* p, IpfsPin ipfs, const OpView* op = nullptr) {
    return compute_status(p, "me", ipfs, op);
  };
  CHECK(st(&mine, IpfsPin::recursive) == TrackerStatus::pinned);
  CHECK(st(&everywhere, IpfsPin::recursive) == TrackerStatus::pinned);
  CHECK(st(&direct, IpfsPin::direct) == TrackerStatus::pinned);
  CHECK(st(&direct, IpfsPin::recursive) == TrackerStatus::pinned);
  CHECK(st(&mine, IpfsPin::direct) == TrackerStatus::unexpectedly_unpinned);
  CHECK(st(&mine, IpfsPin::indirect) == TrackerStatus::unexpectedly_unpinned);
  CHECK(st(&mine, IpfsPin::none) == TrackerStatus::unexpectedly_unpinned);
  CHECK(st(&mine, IpfsPin::unknown) == TrackerStatus::cluster_error);
  CHECK(st(&theirs, IpfsPin::none) == TrackerStatus::remote);
  CHECK(st(&theirs, IpfsPin::unknown) == TrackerStatus::remote);
  CHECK(st(nullptr, IpfsPin::none) == TrackerStatus::unpinned);
  CHECK(st(nullptr, IpfsPin::recursive) == TrackerStatus::unpinned);

  OpView op;
  op.type = OpType::pin;
  op.phase = Phase::queued;
  CHECK(st(&mine, IpfsPin::none, &op) == TrackerStatus::pin_queued);
  op.phase = Phase::in_progress;
  CHECK(st(&mine, IpfsPin::none, &op) == TrackerStatus::pinning);
  op.phase = Phase::error;
  CHECK(st(&mine, IpfsPin::unknown, &op) == TrackerStatus::pin_error);
  op.type = OpType::unpin;
  op.phase = Phase::queued;
  CHECK(st(nullptr, IpfsPin::recursive, &op) == TrackerStatus::unpin_queued);
  op.phase = Phase::in_progress;
  CHECK(st(nullptr, IpfsPin::recursive, &op) == TrackerStatus::unpinning);
  op.phase = Phase::error;
  CHECK(st(nullptr, IpfsPin::recursive, &op) == TrackerStatus::unpin_error);
}

TEST_CASE("status names round-trip and unknown names say what is allowed") {
  for (int i = 0; i <= static_cast<int>(TrackerStatus::unexpectedly_unpinned); i++) {
    auto s = static_cast<TrackerStatus>(i);
    auto back = parse_status(status_name(s));
    REQUIRE(back.is_ok());
    CHECK(*back == s);
  }
  auto bad = parse_status("pinnned");
  CHECK(bad.status().message().find("pin_queued") != std::string::npos);
  CHECK(is_error(TrackerStatus::pin_error));
  CHECK(is_error(TrackerStatus::unexpectedly_unpinned));
  CHECK_FALSE(is_error(TrackerStatus::pinned));
}
