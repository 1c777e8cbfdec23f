// The peer store: every peer this node knows how to reach, where it heard of
// it, and when it may dial it next. Persisted as JSON so an operator can read
// it; a damaged file is reported and the daemon carries on with what the
// config and the network tell it.
//
// Sans-I/O apart from save()/load(): the caller passes the time into every
// call (the wall clock, because last-seen times are persisted and must mean
// something after a restart) and does the dialing. Randomness (backoff
// jitter, exchange sampling) comes from a generator seeded by the caller, so
// tests are deterministic.
//
// Dial life cycle: due() hands out peers whose backoff has expired and marks
// them as being dialed; the caller then reports exactly one of
// record_success() or record_failure() for each. A connected peer is not
// handed out again until record_disconnect().
//
// Backoff is "equal jitter": after the n-th consecutive failure the next dial
// waits a uniformly random time in [c/2, c], c = min(max, base·2^(n-1)),
// where max is backoff_max_known for bootstrap and recently seen peers. The
// floor keeps a dead peer from being redialed at once; the random half
// spreads the redials of many nodes after a partition heals. A connection
// that drops within `stable_after` of being established counts as a failure,
// so a peer that accepts and immediately closes is backed off too.
//
// Bounds: at most max_peers peers (adding one more evicts the least recently
// seen peer that is not a bootstrap peer and not connected or being dialed;
// peers never seen rank oldest), at most max_addrs per peer, at most
// max_exchange entries sent or accepted per peer exchange.
//
// Threading: none. One thread (the node's strand) uses a PeerStore.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "crdt/status.h"
#include "net/identity.h"
#include "net/multiaddr.h"

namespace trellis::net {

using WallClock = std::chrono::system_clock;
using WallTime = WallClock::time_point;

// Where a peer came from. Higher wins when a peer is heard of twice: a
// bootstrap peer stays one whatever the network says about it.
enum class PeerSource : uint8_t {
  exchange = 0,   // another peer told us about it (unverified)
  inbound = 1,    // it connected to us and proved its identity
  bootstrap = 2,  // the operator's config; never evicted
};
const char* source_name(PeerSource s);  // "exchange", "inbound", "bootstrap"

struct PeerStoreOptions {
  size_t max_peers = 1000;
  size_t max_addrs = 8;      // per peer
  size_t max_exchange = 64;  // entries per exchange message, either way
  std::chrono::milliseconds backoff_base{1000};
  std::chrono::milliseconds backoff_max{5 * 60 * 1000};
  // Members we know (bootstrap peers, peers connected within known_for) are
  // retried at least this often, so a healed partition reconnects in
  // seconds; strangers back off up to backoff_max.
  std::chrono::milliseconds backoff_max_known{5 * 1000};
  std::chrono::milliseconds known_for{60 * 60 * 1000};
  // A connection that lasts at least this long resets the failure count.
  std::chrono::milliseconds stable_after{30 * 1000};
  uint64_t seed = 0;  // jitter and sampling; use a random seed in production
};

struct PeerRecord {
  enum class State : uint8_t { idle, dialing, connected };

  PeerId id;
  std::vector<Multiaddr> addrs;  // without /p2p; best first; ≤ max_addrs
  PeerSource source = PeerSource::exchange;
  WallTime last_seen{};  // epoch = never connected
  WallTime added{};
  uint32_t failures = 0;  // consecutive
  WallTime next_dial{};   // not before this
  State state = State::idle;
  WallTime connected_since{};
};

// One peer in a peer exchange message: its ID and dialable addresses.
struct ExchangeEntry {
  PeerId id;
  std::vector<Multiaddr> addrs;
  friend bool operator==(const ExchangeEntry&, const ExchangeEntry&) = default;
};

struct DialTarget {
  PeerId id;
  std::vector<Multiaddr> addrs;  // without /p2p, best first
};

struct MergeCounts {
  size_t added = 0;    // new peers
  size_t updated = 0;  // known peers that gained an address
  size_t ignored = 0;  // self, the sender, no usable address, over the bound
};

// Largest peer store file load() reads.
inline constexpr size_t kMaxPeerStoreFile = 8 << 20;

class PeerStore {
 public:
  // `self` is never stored (a peer exchange will eventually mention us).
  explicit PeerStore(PeerId self, PeerStoreOptions options = {});

  // Adds or updates a peer. Addresses must be dialable and carry no /p2p or
  // this peer's. Duplicates are dropped and the list is cut to max_addrs;
  // addresses from the operator or the peer itself (bootstrap, inbound) go
  // first, hearsay (exchange) only fills free slots after the known ones.
  // An inbound peer may have no address (it is kept but never dialed).
  // Fails for self, an empty ID, a bad address, or when the store is full of
  // peers that cannot be evicted.
  Status add(const PeerId& id, std::span<const Multiaddr> addrs, PeerSource source, WallTime now);
  bool forget(const PeerId& id);

  // The connection is up (dialed or inbound). `via`, if given, is the address
  // that worked; it moves to the front of the list. The record_* calls
  // ignore unknown peers: add() an inbound peer first.
  void record_success(const PeerId& id, WallTime now, const Multiaddr* via = nullptr);
  // The dial failed: counts the failure and returns when the peer may be
  // dialed again, or nullopt for an unknown peer.
  std::optional<WallTime> record_failure(const PeerId& id, WallTime now);
  // The connection closed. Redial at once if it was stable, else back off.
  void record_disconnect(const PeerId& id, WallTime now);

  // Up to `limit` idle peers with addresses whose backoff has expired,
  // longest-waiting first; each is marked as being dialed. A next-dial time
  // more than backoff_max in the future (the wall clock stepped back) counts
  // as expired.
  std::vector<DialTarget> due(WallTime now, size_t limit);

  // Up to max_exchange peers to tell `requester` about: peers we have
  // connected to at some point and that have addresses, sampled at random,
  // never the requester itself.
  std::vector<ExchangeEntry> exchange_snapshot(const PeerId& requester);
  // Takes in a received exchange list: at most max_exchange entries and
  // max_addrs addresses each are looked at; self, `from`, entries with no
  // dialable address and addresses with a foreign /p2p are skipped. New
  // peers are added with source `exchange` (never seen, so first evicted).
  MergeCounts merge_exchange(const PeerId& from, std::span<const ExchangeEntry> entries,
                             WallTime now);

  // Atomic: writes path + ".tmp", fsyncs, renames, fsyncs the directory.
  Status save(const std::string& path) const;
  // Replaces the contents with the file's, or leaves the store unchanged and
  // returns not_found (no file), io_error, too_large, unsupported (a newer
  // version) or corrupt (naming the entry and field at fault). The caller
  // logs it and carries on. Loaded peers are idle and due at once;
  // "bootstrap" entries load as "exchange", since the config is the only
  // authority on bootstrap peers (the daemon re-adds them after load()).
  Status load(const std::string& path, WallTime now);

  const PeerRecord* find(const PeerId& id) const;
  size_t size() const { return peers_.size(); }
  const std::map<PeerId, PeerRecord>& peers() const { return peers_; }
  const PeerStoreOptions& options() const { return options_; }

  // The backoff after `failures` consecutive failures (≥ 1), drawn from rng.
  static std::chrono::milliseconds backoff(const PeerStoreOptions& o, uint32_t failures,
                                           std::mt19937_64& rng);

 private:
  PeerRecord* find_mut(const PeerId& id);
  bool make_room();
  void back_off(PeerRecord& r, WallTime now);

  PeerId self_;
  PeerStoreOptions options_;
  std::mt19937_64 rng_;
  std::map<PeerId, PeerRecord> peers_;
};

}  // namespace trellis::net
