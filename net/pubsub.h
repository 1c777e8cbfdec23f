// Pubsub: signed messages flooded through the cluster with a bounded fan-out.
//
// Every message is signed by its origin and carries (origin, seqno), which
// identifies it cluster-wide. A node that receives a message for the first
// time verifies it, delivers it to the local subscriber if any, and forwards
// the same bytes to at most D (fanout) connected peers picked at random,
// never the peer it came from nor the origin. Later copies hit the seen cache
// and go no further, so one publish costs at most D sends per node whatever
// the cluster size, N·D in total. Because the forward set is random rather
// than "everyone", delivery is probabilistic on dense graphs; Trellis does
// not depend on it, since the CRDT's periodic head exchange repairs any gap.
//
// Decisions:
//  - The publisher's own subscriber is NOT called by publish(): the caller
//    already has the data. A copy of our own message coming back (origin ==
//    self) counts as a duplicate and is dropped.
//  - Messages for topics we do not subscribe to are verified, validated (if
//    a validator is set) and relayed, but not delivered: every member relays
//    so that reach does not depend on who subscribes to what. Turn off with
//    PubsubOptions::relay_unsubscribed.
//  - A message that fails signature verification is not remembered (so a
//    forgery cannot shadow the real message); one the validator rejects is
//    remembered, so its copies cost no more verifications.
//  - The seen cache forgets a message after seen_ttl or when full, after
//    which a replay would be accepted again: handlers must be idempotent
//    (Trellis's are: head announcements and the like).
//
// Wire format (msgpack, one message per frame, no trailing bytes):
//   [1, topic: str, origin: bin(38, peer ID multihash), seqno: uint,
//    data: bin, signature: bin(64)]
// Signed bytes (Ed25519 by origin):
//   "trellis-pubsub:" ‖ u16be len(topic) ‖ topic ‖ origin (38 bytes)
//                     ‖ u64be seqno ‖ u64be len(data) ‖ data
// Bounds: topic 1..128 bytes of printable ASCII without spaces (0x21-0x7e);
// data ≤ max_data_bytes (1 MiB by default); the frame ≤ that plus 512.
//
// Threading: none. One thread (the node's strand) uses a Pubsub. Handlers and
// validators run inside on_message() and may call subscribe, unsubscribe and
// publish; they must not throw.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "crdt/bytes.h"
#include "crdt/status.h"
#include "net/identity.h"

namespace trellis::net {

inline constexpr size_t kMaxTopicBytes = 128;
inline constexpr size_t kDefaultMaxPubsubData = size_t{1} << 20;
// Encoded size beyond the data: version, topic, origin, seqno, signature and
// msgpack headers all fit well within this.
inline constexpr size_t kPubsubOverhead = 512;
inline constexpr uint64_t kPubsubVersion = 1;
inline constexpr std::string_view kPubsubDomain = "trellis-pubsub:";

struct PubsubMessage {
  std::string topic;
  PeerId origin;
  uint64_t seqno = 0;
  Bytes data;
  Signature signature{};

  friend bool operator==(const PubsubMessage&, const PubsubMessage&) = default;
};

// ok, or invalid_argument saying what is wrong with the topic name.
Status check_topic(std::string_view topic);

// The exact bytes the origin signs (format above).
Bytes pubsub_signing_bytes(std::string_view topic, const PeerId& origin, uint64_t seqno,
                           ByteView data);
// A message from `self`, signed.
PubsubMessage sign_pubsub(const Identity& self, std::string topic, uint64_t seqno, Bytes data);
bool verify_pubsub(const PubsubMessage& m);

Bytes encode_pubsub(const PubsubMessage& m);
// Checks the shape and the bounds but not the signature. Never throws; the
// parser never allocates more than the input's size implies.
Result<PubsubMessage> decode_pubsub(ByteView bytes, size_t max_data = kDefaultMaxPubsubData);

using PubsubClock = std::chrono::steady_clock;

struct PubsubOptions {
  size_t fanout = 6;  // D
  size_t seen_capacity = 65536;
  PubsubClock::duration seen_ttl = std::chrono::minutes(2);
  size_t max_data_bytes = kDefaultMaxPubsubData;  // keep well under 4 GiB (msgpack bin32)
  bool relay_unsubscribed = true;
  uint64_t seed = 0;  // peer selection; use a random seed in production
};

struct PubsubCounters {
  uint64_t published = 0;
  uint64_t accepted = 0;   // new, valid messages (delivered or only relayed)
  uint64_t delivered = 0;  // accepted and handed to a local subscriber
  uint64_t duplicates = 0;
  uint64_t rejected = 0;  // = the three below
  uint64_t rejected_decode = 0;
  uint64_t rejected_signature = 0;
  uint64_t rejected_validator = 0;
  uint64_t sent = 0;       // peer sends asked for by publish()
  uint64_t forwarded = 0;  // peer sends asked for by on_message()
};

// Messages seen recently, bounded in entries and age; O(1) amortised per
// operation. Keys hash with SipHash under a random per-process key, so peers
// cannot pick colliding (origin, seqno) pairs.
class SeenCache {
 public:
  struct Key {
    PublicKey origin{};
    uint64_t seqno = 0;
    friend bool operator==(const Key&, const Key&) = default;
  };

  SeenCache(size_t capacity, PubsubClock::duration ttl);
  bool contains(const Key& k, PubsubClock::time_point now);
  // Adds a key not present; drops the oldest entry when full.
  void insert(const Key& k, PubsubClock::time_point now);
  void expire(PubsubClock::time_point now);
  size_t size() const { return set_.size(); }

 private:
  struct Hash {
    std::array<uint8_t, 16> key{};
    size_t operator()(const Key& k) const;
  };
  static Hash random_hash();

  size_t capacity_;
  PubsubClock::duration ttl_;
  std::unordered_set<Key, Hash> set_;
  std::deque<std::pair<PubsubClock::time_point, Key>> fifo_;  // insertion order
};

class Pubsub {
 public:
  using Handler = std::function<void(const PubsubMessage&, const PeerId& from)>;
  using Validator = std::function<bool(const PubsubMessage&, const PeerId& from)>;

  struct Published {
    Bytes encoded;
    std::vector<PeerId> send_to;  // ≤ fanout
    uint64_t seqno = 0;
  };

  struct Received {
    enum class Verdict : uint8_t { accepted, duplicate, rejected };
    enum class Reject : uint8_t { none, decode, signature, validator };
    Verdict verdict = Verdict::rejected;
    Reject reject = Reject::none;
    Status reason;                   // why, when rejected
    std::string topic;               // when the message decoded
    bool delivered = false;          // a local handler ran
    std::vector<PeerId> forward_to;  // ≤ fanout; send the same bytes
  };

  // `first_seqno`: the wall clock in nanoseconds since the Unix epoch, so a
  // restarted node's seqnos are not mistaken for ones it used before.
  Pubsub(Identity self, uint64_t first_seqno, PubsubOptions options = {});

  // One handler per topic; subscribing again replaces it.
  Status subscribe(std::string topic, Handler handler);
  void unsubscribe(std::string_view topic);
  bool subscribed(std::string_view topic) const;
  // An empty function removes the validator.
  Status set_validator(std::string topic, Validator validator);

  // Signs and encodes a message and picks ≤ fanout of `connected` (distinct
  // peers) to send it to. Fails for a bad topic or oversized data.
  Result<Published> publish(std::string_view topic, ByteView data,
                            std::span<const PeerId> connected, PubsubClock::time_point now);
  // A frame from peer `from`; see the decisions above.
  Received on_message(const PeerId& from, ByteView encoded, std::span<const PeerId> connected,
                      PubsubClock::time_point now);

  const PubsubCounters& counters() const { return counters_; }
  size_t seen_size() const { return seen_.size(); }
  const PeerId& self() const { return self_.id(); }
  uint64_t next_seqno() const { return next_seqno_; }

 private:
  std::vector<PeerId> pick_peers(std::span<const PeerId> connected, const PeerId& skip_a,
                                 const PeerId& skip_b);
  Received reject(Received r, Received::Reject why, Status reason);

  Identity self_;
  PubsubOptions options_;
  uint64_t next_seqno_;
  std::mt19937_64 rng_;
  SeenCache seen_;
  std::map<std::string, Handler, std::less<>> handlers_;
  std::map<std::string, Validator, std::less<>> validators_;
  PubsubCounters counters_;
};

}  // namespace trellis::net
