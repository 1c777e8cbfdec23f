// The cluster-wide status of pins (IPFS Cluster's GlobalPinInfo): this
// peer's own, plus every connected peer's over the trellis/pin-status RPC.
// Shared by the REST API and the Pinning Service API.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "crdt/status.h"
#include "net/asio.h"
#include "pinning/tracker.h"

namespace trellis {

class Service;

inline constexpr size_t kPinPage = 256;  // pins read from the state at a time

// {"cid","name","allocations","origins","created","metadata","peer_map"}.
nlohmann::json global_info(const Cid& cid, const pinning::Pin* pin, nlohmann::json peer_map);

// The next page (up to kPinPage pins, in key order) after the key `after`,
// which is moved on; empty at the end.
Result<std::vector<pinning::Pin>> next_page(const pinning::PinSource& pins, std::string& after);

// GlobalPinInfo of each pin of a page: this peer's status from `lists`, and
// unless `local` every connected peer's.
net::awaitable<std::vector<nlohmann::json>> page_status(
    Service& s, const std::vector<pinning::Pin>& page, bool local,
    std::shared_ptr<const pinning::Tracker::Lists> lists);

// One CID's GlobalPinInfo (every peer "unpinned" when it is not pinned).
net::awaitable<Result<nlohmann::json>> cid_status(Service& s, Cid cid, bool local);

}  // namespace trellis
