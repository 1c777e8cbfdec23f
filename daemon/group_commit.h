// GroupCommit: concurrent pin writes from the APIs share one commit.
//
// A write joins the open round and suspends; the first write of a round
// posts the round's flush to the event loop, so every request the loop
// handles before the flush runs (all sockets that were ready together, and
// those that became ready during the previous fsync) lands in the same
// Batch: one block chain, one LMDB transaction, one fsync, one head
// announcement. Each writer resumes once its round is durable, with the
// round's result. No timer delays a lone write: a quiet peer commits at once.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "crdt/replica.h"
#include "net/asio.h"

namespace trellis {

class GroupCommit {
 public:
  // `committed` runs after each round that changed something (to announce
  // the new heads).
  GroupCommit(net::asio::io_context& io, Replica& replica, std::function<void()> committed);

  // Durable when it returns ok; the last write to a key in a round wins.
  net::awaitable<Status> put(std::string key, Bytes value);
  net::awaitable<Status> remove(std::string key);
  // Several writes that land in the same round, so in one commit: all or
  // none (an unpin and its removal marker).
  struct Write {
    std::string key;
    std::optional<Bytes> value;  // none removes the key
  };
  net::awaitable<Status> write_all(std::vector<Write> writes);

  struct Counters {
    uint64_t rounds = 0, writes = 0;
  };
  const Counters& counters() const { return counters_; }

 private:
  struct Round;
  void flush();

  net::asio::io_context& io_;
  Replica& replica_;
  std::function<void()> committed_;
  std::shared_ptr<Round> open_;  // collecting writes; null between rounds
  Counters counters_;
};

}  // namespace trellis
