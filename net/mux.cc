#include "net/mux.h"

#include <algorithm>
#include <string>

namespace trellis::net {

bool MuxSender::enqueue(Lane lane, Bytes message) {
  if (message.size() > max_bytes_ - std::min(queued_, max_bytes_)) return false;
  queued_ += message.size();
  lanes_[static_cast<size_t>(lane)].push_back({std::move(message), 0});
  return true;
}

bool MuxSender::next_chunk(Bytes& out) {
  for (size_t lane = 0; lane < kLanes; ++lane) {
    auto& q = lanes_[lane];
    if (q.empty()) continue;
    Pending& p = q.front();
    size_t n = std::min(kMaxChunkData, p.data.size() - p.sent);
    bool last = p.sent + n == p.data.size();
    out.resize(kChunkHeader + n);
    out[0] = static_cast<uint8_t>(lane);
    out[1] = last ? kChunkLast : 0;
    std::copy_n(p.data.begin() + static_cast<std::ptrdiff_t>(p.sent), n, out.begin() + kChunkHeader);
    p.sent += n;
    queued_ -= n;
    if (last) q.pop_front();
    return true;
  }
  return false;
}

void MuxSender::clear() {
  for (auto& q : lanes_) q.clear();
  queued_ = 0;
}

Result<std::optional<MuxReceiver::Completed>> MuxReceiver::on_chunk(ByteView chunk) {
  if (chunk.size() < kChunkHeader) return corrupt("chunk is shorter than its header");
  if (chunk.size() > kMaxChunk) return too_large("chunk is larger than a Noise message allows");
  if (chunk[0] >= kLanes) return corrupt("chunk names unknown lane " + std::to_string(chunk[0]));
  if (chunk[1] & ~kChunkLast) return corrupt("chunk has unknown flags");
  Bytes& buf = partial_[chunk[0]];
  size_t n = chunk.size() - kChunkHeader;
  if (buf.size() + n > max_message_)
    return too_large("message exceeds the " + std::to_string(max_message_) + "-byte limit");
  buf.insert(buf.end(), chunk.begin() + kChunkHeader, chunk.end());
  if (!(chunk[1] & kChunkLast)) return std::optional<Completed>();
  Completed done{static_cast<Lane>(chunk[0]), std::move(buf)};
  buf = Bytes();
  return std::optional<Completed>(std::move(done));
}

}  // namespace trellis::net
