// Replicator: the glue between a Replica (crdt/) and a Node (net/).
//
// - Announces heads on the heads topic after local commits (announce()) and
//   every rebroadcast interval (Replica::tick).
// - Feeds heads heard on the topic to Replica::on_heads, then fetches what
//   the replica wants: first as one sub-DAG stream from the announcing peer
//   (or any connected peer), falling back to blocks.get batches, several in
//   flight, spread over the connected peers.
// - Serves blocks.get, blocks.subdag and heads to other peers.
//
// Threading: the io_context thread of the Node; the Replica is used only
// from there.
#pragma once

#include <chrono>
#include <functional>
#include <span>
#include <string>

#include "crdt/log.h"
#include "crdt/replica.h"
#include "net/node.h"

namespace trellis {

inline constexpr std::string_view kHeadsTopic = "trellis/heads/1";

struct ReplicatorOptions {
  std::chrono::milliseconds tick_interval{1'000};  // checks Replica::tick and stalled wants
  std::chrono::milliseconds call_timeout{10'000};  // per request, and per stream item
  size_t parallel_gets = 8;                        // blocks.get calls in flight
  bool use_subdag = true;                          // false: blocks.get only (the baseline)
  size_t get_batch = 64;                           // CIDs per blocks.get
};

struct ReplicatorCounters {
  uint64_t heads_received = 0, streams = 0, stream_blocks = 0, gets = 0, get_blocks = 0;
  uint64_t rejected_blocks = 0, served_streams = 0, served_blocks = 0;
};

class Replicator {
 public:
  Replicator(net::Node& node, Replica& replica, ReplicatorOptions opts = {});

  // Registers the methods and the topic; starts the tick loop.
  Status start();
  void stop();
  // Publishes the current heads soon (call after a local commit): once the
  // current handler returns, so a burst of commits costs one message.
  void announce();
  // Wakes the fetch loop (e.g. after on_heads found wants).
  void kick();

  const ReplicatorCounters& counters() const { return counters_; }
  bool syncing() const { return syncing_; }
  // Logged problems go here ("block … rejected: …").
  LogFn log;

 private:
  net::awaitable<void> tick_loop();
  net::awaitable<void> fetch_loop();
  net::awaitable<void> ask_heads(net::PeerId peer);
  net::awaitable<bool> stream_from(const net::PeerId& peer, std::vector<Cid> roots);
  net::awaitable<size_t> get_from(const net::PeerId& peer, std::vector<Cid> cids);
  net::awaitable<bool> get_round(std::vector<Want> wants);
  net::awaitable<Result<Bytes>> serve_subdag(net::ServerCall& call);
  Result<Bytes> serve_get(ByteView body);
  void on_heads_message(const net::PubsubMessage& m);
  // Buffers heads announced by `from`; recorded once this turn of the
  // event loop ends (or at once when kMaxHeard are buffered).
  void hear(std::span<const Cid> heads, const net::PeerId& from);
  void flush_heads();
  void publish_heads();
  size_t feed(std::vector<IncomingBlock>& blocks);
  void note_rejected(const std::vector<std::string>& rejected);
  net::PeerId pick_peer(const Want& w);

  net::Node& node_;
  Replica& replica_;
  ReplicatorOptions opts_;
  ReplicatorCounters counters_;
  net::Signal wake_;
  net::asio::steady_timer tick_timer_;
  bool stopped_ = false;
  bool syncing_ = false;
  size_t rotate_ = 0;
  bool announce_posted_ = false;
  // Heads heard since the last flush; recorded in one transaction per turn
  // of the event loop instead of one per message.
  std::vector<Want> heard_;
};

}  // namespace trellis
