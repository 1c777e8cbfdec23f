// Private to net/node*.cc: per-peer and per-call state of a Node.
#pragma once

#include <map>
#include <memory>
#include <optional>

#include "net/node.h"

namespace trellis::net {

struct Node::PendingCall {
  explicit PendingCall(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;  // re-armed by each stream item
  std::chrono::milliseconds timeout{0};
  ItemSink sink;
  bool done = false;
  std::optional<Result<Bytes>> result;

  void finish(Result<Bytes> r) {
    if (done) return;
    done = true;
    result.emplace(std::move(r));
    timer.cancel();
  }
};

struct Node::Peer {
  std::shared_ptr<Connection> conn;
  std::map<uint64_t, std::shared_ptr<PendingCall>> calls;  // ours, by id
  std::map<uint64_t, std::shared_ptr<bool>> serving;       // theirs: cancelled flags
  Hello hello;
};

}  // namespace trellis::net
