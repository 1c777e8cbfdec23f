// Replicator: the glue between a Replica (crdt/) and a Node (net/).
//
// - Announces heads on the heads topic after local commits (announce()) and
//   every rebroadcast interval (Replica::tick).
// - Feeds heads heard on the topic to Replica::on_heads, then fetches what
//   the replica wants: first as one sub-DAG stream from the announcing peer
//   (or any connected peer), falling back to blocks.get batches, several in
//   flight, spread over the connected peers.
// - Serves blocks.get, blocks.subdag and heads to other peers. Full syncs
//   (sub-DAG streams asked for by a peer with an empty store) are served
//   at most `full_syncs` times per `full_sync_window`; past that the answer
//   is busy. A peer told busy streams from another connected peer whose
//   heads hold the wanted CIDs (any peer will do as a source: blocks are
//   verified by hash), or retries soon. So a writer that many new
//   followers join at once serves a few of them, and they serve the rest
//   (gossip fan-out), while incremental syncs are never refused.
//
// Threading: the io_context thread of the Node; the Replica is used only
// from there.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <random>
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
  size_t full_syncs = 3;  // full syncs served per window; more: busy
  std::chrono::milliseconds full_sync_window{5'000};
  // After a busy answer and no other source: the next try, plus up to as
  // much again at random (so that waiting peers do not retry together).
  std::chrono::milliseconds busy_retry{100};
};

struct ReplicatorCounters {
  uint64_t heads_received = 0, streams = 0, stream_blocks = 0, gets = 0, get_blocks = 0;
  uint64_t rejected_blocks = 0, served_streams = 0, served_blocks = 0;
  uint64_t busy_refused = 0;  // full syncs refused: `full_syncs` served this window
  uint64_t busy_answers = 0;  // our stream requests that a peer refused as busy
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
  // What one sub-DAG stream (or one round of them) brought.
  enum class Fetched { stored, nothing, busy };
  net::awaitable<Fetched> stream_round(const std::vector<Want>& wants);
  net::awaitable<Fetched> stream_from(const net::PeerId& peer, std::vector<Cid> roots);
  // Connected peers but `skip` whose heads include one of `roots`, in
  // random order (asked with the heads method, at most kProbePeers).
  net::awaitable<std::vector<net::PeerId>> holders(const std::vector<Cid>& roots, net::PeerId skip);
  net::awaitable<void> wait_retry();
  // Records a full sync served now, unless `full_syncs` were this window.
  bool admit_full_sync();
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
  net::asio::steady_timer retry_timer_;
  std::minstd_rand rng_;  // seeded from our peer ID
  std::deque<std::chrono::steady_clock::time_point> full_syncs_;  // served, newest last
  bool stopped_ = false;
  bool syncing_ = false;
  bool streaming_ = false;  // a StreamIngest is open (stream_from)
  bool resume_failed_ = false;  // the last resume_merges() failed (logged once)
  size_t rotate_ = 0;
  bool announce_posted_ = false;
  // Heads heard since the last flush; recorded in one transaction per turn
  // of the event loop instead of one per message.
  std::vector<Want> heard_;
};

}  // namespace trellis
