// Tracker: makes the local IPFS daemon pin what the converged state
// allocates to this peer, and reports each pin's status on this peer.
//
// Stateless: the only thing it keeps is the OpQueue of in-flight and failed
// operations. Status is computed on demand from the state (through
// PinSource), IPFS's pin/ls and that queue, so a restart loses nothing: the
// start-up recover queues every allocated pin that IPFS lacks, and an unpin
// for every pin IPFS holds that the state allocates elsewhere or removed
// (its removal marker, kRemovedPrefix).
//
// Threading: everything on the io_context's thread; the PinSource calls are
// made there too.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>

#include "crdt/log.h"
#include "crdt/replica.h"
#include "net/asio.h"
#include "pinning/ipfs.h"
#include "pinning/op_queue.h"

namespace trellis::pinning {

// Read access to the converged state's pins.
class PinSource {
 public:
  virtual ~PinSource() = default;
  virtual Result<std::optional<Pin>> get(const Cid& cid) const = 0;
  // Every pin in CID-key order until fn returns false; with `after`, only
  // the pins whose key (pin_key) sorts after it.
  virtual Status scan(const std::function<bool(const Pin&)>& fn,
                      std::string_view after = {}) const = 0;
  // scan() before decoding: each pin's key and stored value (decode it with
  // decode_pin_into), valid only during the call.
  virtual Status scan_stored(const std::function<bool(std::string_view key, ByteView value)>& fn,
                             std::string_view after = {}) const = 0;
  // The timestamp of the pin the last removal of `cid` removed (kRemovedPrefix).
  virtual Result<std::optional<int64_t>> removed(const Cid& cid) const = 0;
  // Every removal marker, in CID-key order, until fn returns false.
  virtual Status scan_removed(const std::function<bool(const Cid&, int64_t)>& fn) const = 0;
};

// PinSource over a Replica's /pins/ keys. Values that fail to decode are
// skipped (scan) or reported (get).
class ReplicaPins : public PinSource {
 public:
  explicit ReplicaPins(const Replica& replica) : replica_(replica) {}
  Result<std::optional<Pin>> get(const Cid& cid) const override;
  Status scan(const std::function<bool(const Pin&)>& fn,
              std::string_view after = {}) const override;
  Status scan_stored(const std::function<bool(std::string_view key, ByteView value)>& fn,
                     std::string_view after = {}) const override;
  Result<std::optional<int64_t>> removed(const Cid& cid) const override;
  Status scan_removed(const std::function<bool(const Cid&, int64_t)>& fn) const override;

 private:
  const Replica& replica_;
};

struct TrackerOptions {
  std::string self;  // this peer's ID, as allocations name it
  OpQueueOptions queue;
  // How often failed and unexpectedly unpinned pins are recovered by
  // themselves; 0 turns it off.
  std::chrono::milliseconds recover_interval{std::chrono::minutes(8)};
  // How often the start-up recover is retried while IPFS cannot be listed.
  std::chrono::milliseconds retry_interval{10'000};
  LogFn log;
};

// One pin's status on this peer, as IPFS Cluster's PinInfo has it.
struct PinInfo {
  Cid cid;
  std::string name;
  TrackerStatus status = TrackerStatus::undefined;
  uint32_t attempts = 0;
  std::string error;
};

// Finished IPFS operations (cancelled ones are not counted).
struct TrackerCounters {
  uint64_t pins = 0, pin_errors = 0, unpins = 0, unpin_errors = 0;
};

class Tracker {
 public:
  Tracker(net::asio::io_context& io, IpfsClient& ipfs, const PinSource& pins, TrackerOptions opts);
  ~Tracker();

  // The worker, and recover_all() at once (retried until IPFS answers:
  // it queues what is allocated here and missing from IPFS) and then every
  // recover_interval.
  void start();
  void stop();   // cancels running operations; safe to call twice

  // The state changed for a key (the Replica hook). Keys outside /pins/ are
  // ignored. A pin allocated here is queued for pinning; one that is not
  // (or is gone) is queued for unpinning only if IPFS may hold it (see
  // held_), so a peer syncing a large pinset allocated elsewhere queues
  // nothing.
  void on_change(const Change& change);

  net::awaitable<PinInfo> status(Cid cid);
  // What IPFS pins, for computing many statuses with status_in(): one
  // pin/ls, reused for calls within `max_age` until an operation finishes
  // (8 bytes per IPFS pin).
  struct Lists;
  net::awaitable<std::shared_ptr<const Lists>> ipfs_lists(std::chrono::milliseconds max_age);
  PinInfo status_in(const Pin& pin, const Lists& lists) const;
  // Every pin in the state plus every operation on a CID the state no longer
  // has, streamed to fn (until it returns false). Memory: 8 bytes for each
  // pin IPFS holds, not a copy of the list.
  net::awaitable<Status> status_all(std::function<bool(const PinInfo&)> fn);
  // Retries a failed operation or re-pins an unexpectedly unpinned CID now.
  net::awaitable<PinInfo> recover(Cid cid);
  // recover() for every pin in an error state or unexpectedly unpinned, and
  // an unpin for each CID IPFS holds that the state allocates elsewhere or
  // has a removal marker for; returns how many were queued. Fails, queueing nothing, while IPFS
  // cannot be listed.
  net::awaitable<Result<size_t>> recover_all();

  const OpQueue& queue() const { return queue_; }
  const TrackerCounters& counters() const { return counters_; }

 private:
  net::awaitable<std::shared_ptr<Lists>> load_lists();
  void kick();
  net::awaitable<void> worker();
  net::awaitable<void> execute(Op op);
  net::awaitable<void> recover_loop();
  void cancel(std::optional<uint64_t> id);
  void queue_op(OpType type, const Pin& pin);  // enqueue, cancel what it replaces
  PinInfo info_of(const Cid& cid, const Pin* pin, IpfsPin ipfs) const;

  net::asio::io_context& io_;
  IpfsClient& ipfs_;
  const PinSource& pins_;
  TrackerOptions opts_;
  OpQueue queue_;
  std::map<uint64_t, std::shared_ptr<CancelToken>> running_;
  std::unique_ptr<net::asio::steady_timer> retry_timer_;    // the worker sleeps on it
  std::unique_ptr<net::asio::steady_timer> recover_timer_;
  TrackerCounters counters_;
  std::shared_ptr<const Lists> lists_;  // ipfs_lists()'s cache
  // CIDs (short hashes) IPFS may hold: every CID the last listings showed
  // plus every CID queued for pinning since; an unpin that succeeds takes
  // its CID out. recover_all() unpins what IPFS held before the first
  // listing. 8 bytes and a node per CID pinned here.
  std::unordered_set<uint64_t> held_;
  std::chrono::steady_clock::time_point lists_at_{};
  std::shared_ptr<bool> alive_;
  bool stopped_ = false;
};

}  // namespace trellis::pinning
