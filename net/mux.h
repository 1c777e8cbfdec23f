// Multiplexing of messages over one secure session (sans-I/O).
//
// A message (net/wire.h) is split into chunks; each chunk is the plaintext
// of one Noise transport message: [lane][flags][up to kMaxChunkData bytes].
// Two lanes share the session: `control` (pubsub, RPC, requests) and `bulk`
// (block data). The sender always takes a control chunk before a bulk one,
// so a small message waits behind at most one bulk chunk (~64 KiB), never
// behind a whole transfer. Each lane delivers its messages in order.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>

#include "crdt/bytes.h"
#include "crdt/status.h"

namespace trellis::net {

enum class Lane : uint8_t { control = 0, bulk = 1 };
inline constexpr size_t kLanes = 2;

// Plaintext of one Noise transport message: 65535 minus the 16-byte tag.
inline constexpr size_t kMaxChunk = 65535 - 16;
inline constexpr size_t kChunkHeader = 2;
inline constexpr size_t kMaxChunkData = kMaxChunk - kChunkHeader;
inline constexpr uint8_t kChunkLast = 1;  // flags: last chunk of a message

// Outgoing queue of one connection. Bounded: enqueue() refuses a message
// that would take the queued bytes over `max_bytes`, and the caller then
// drops the connection (a peer that cannot keep up is not buffered for).
class MuxSender {
 public:
  explicit MuxSender(size_t max_bytes) : max_bytes_(max_bytes) {}

  // False when the queue bound would be exceeded (nothing is queued then).
  bool enqueue(Lane lane, Bytes message);
  // Writes the next chunk's plaintext into `out` (replacing its contents);
  // false when nothing is queued.
  bool next_chunk(Bytes& out);

  size_t queued_bytes() const { return queued_; }
  bool empty() const { return queued_ == 0; }
  size_t max_bytes() const { return max_bytes_; }
  void clear();

 private:
  struct Pending {
    Bytes data;
    size_t sent = 0;
  };
  size_t max_bytes_;
  size_t queued_ = 0;  // unsent bytes over both lanes
  std::deque<Pending> lanes_[kLanes];
};

// Reassembles incoming chunks. A message larger than `max_message` (or a
// malformed chunk) fails the connection.
class MuxReceiver {
 public:
  explicit MuxReceiver(size_t max_message) : max_message_(max_message) {}

  struct Completed {
    Lane lane;
    Bytes message;
  };
  // A finished message, nullopt when more chunks are needed, or an error.
  Result<std::optional<Completed>> on_chunk(ByteView chunk);
  // Bytes held in partial messages (both lanes).
  size_t buffered() const { return partial_[0].size() + partial_[1].size(); }

 private:
  size_t max_message_;
  Bytes partial_[kLanes];
};

}  // namespace trellis::net
