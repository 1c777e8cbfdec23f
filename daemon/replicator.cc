#include "daemon/replicator.h"

#include <boost/asio/post.hpp>
#include <algorithm>
#include <functional>
#include <memory>

#include "crdt/stream.h"
#include "crdt/subdag.h"
#include "net/exchange.h"

namespace trellis {

using net::awaitable;

namespace {

// Streamed blocks gathered per transaction on the receiving side.
constexpr size_t kFeedBytes = size_t{32} << 20;

// Heads buffered before they are recorded regardless of the event loop.
constexpr size_t kMaxHeard = 4096;

// A blocks.get answer stops growing past this (one block always fits).
constexpr size_t kGetResponseBytes = size_t{1} << 20;

// Peers asked for their heads when looking for another source, and how
// long each may take; sources tried per round after a busy answer.
constexpr size_t kProbePeers = 16;
constexpr std::chrono::milliseconds kProbeTimeout{2'000};
constexpr size_t kSourceTries = 3;

// The random choices of a peer (retry jitter, source order) differ from its
// neighbours' but repeat for the same peer ID.
unsigned seed_of(const net::PeerId& id) {
  unsigned seed = 0;
  for (uint8_t b : id.bytes()) seed = seed * 131 + b;
  return seed;
}

using Task = std::function<awaitable<void>()>;

// Runs `tasks` on `io`, at most `limit` at once, and returns once every
// started one has ended; starts no more once `stopped` is set.
awaitable<void> run_bounded(net::asio::io_context& io, std::vector<Task> tasks, size_t limit,
                            const bool& stopped) {
  struct Count {
    explicit Count(const net::asio::any_io_executor& ex) : done(ex) {}
    size_t running = 0;
    net::Signal done;
  };
  auto count = std::make_shared<Count>(io.get_executor());
  for (auto& task : tasks) {
    while (count->running >= limit) co_await count->done.wait();
    if (stopped) break;
    ++count->running;
    net::asio::co_spawn(
        io,
        [count, task = std::move(task)]() -> awaitable<void> {
          co_await task();
          --count->running;
          count->done.notify();
        },
        net::asio::detached);
  }
  while (count->running > 0) co_await count->done.wait();
}

std::vector<Cid> cids_of(std::span<const Want> wants) {
  std::vector<Cid> out;
  out.reserve(wants.size());
  for (const auto& w : wants) out.push_back(w.cid);
  return out;
}

}  // namespace

Replicator::Replicator(net::Node& node, Replica& replica, ReplicatorOptions opts)
    : node_(node),
      replica_(replica),
      opts_(opts),
      wake_(node.io().get_executor()),
      tick_timer_(node.io()),
      retry_timer_(node.io()),
      rng_(seed_of(node.id())) {}

Status Replicator::start() {
  TRELLIS_TRY(node_.subscribe(
      std::string(kHeadsTopic),
      [this](const net::PubsubMessage& m, const net::PeerId&) { on_heads_message(m); }));
  // Heads count only from trusted peers (issue: collaborative clusters).
  TRELLIS_TRY(node_.set_validator(
      std::string(kHeadsTopic),
      [this](const net::PubsubMessage& m, const net::PeerId&) { return node_.trusted(m.origin); }));
  node_.handle("heads", net::Policy::open, [this](net::ServerCall&) -> awaitable<Result<Bytes>> {
    auto heads = replica_.heads();
    if (!heads) co_return heads.status();
    co_return net::encode_cids(*heads);
  });
  node_.handle(
      "blocks.get", net::Policy::open,
      [this](net::ServerCall& call) -> awaitable<Result<Bytes>> {
        co_return serve_get(call.body());
      },
      net::Lane::bulk);
  node_.handle(
      "blocks.subdag", net::Policy::open,
      [this](net::ServerCall& call) { return serve_subdag(call); }, net::Lane::bulk);
  // A new trusted neighbour's heads are asked for at once instead of
  // waiting for its next rebroadcast: a joining peer starts syncing
  // immediately. (An untrusted peer's heads are never asked for.)
  node_.on_peer([this](const net::PeerId& peer, bool up) {
    if (up && node_.trusted(peer)) net::asio::co_spawn(node_.io(), ask_heads(peer), net::asio::detached);
  });
  net::asio::co_spawn(node_.io(), tick_loop(), net::asio::detached);
  net::asio::co_spawn(node_.io(), fetch_loop(), net::asio::detached);
  return Status::ok();
}

void Replicator::stop() {
  stopped_ = true;
  tick_timer_.cancel();
  retry_timer_.cancel();
  wake_.notify();
}

void Replicator::announce() {
  if (announce_posted_) return;
  announce_posted_ = true;
  net::asio::post(node_.io(), [this] {
    announce_posted_ = false;
    if (!stopped_) publish_heads();
  });
}

void Replicator::publish_heads() {
  auto heads = replica_.heads();
  if (!heads || heads->empty()) return;
  if (heads->size() > net::kMaxHeads) heads->resize(net::kMaxHeads);
  if (Status st = node_.publish(kHeadsTopic, net::encode_cids(*heads)); !st && log)
    log(LogLevel::warn, "cannot publish heads: " + st.message());
}

void Replicator::kick() {
  wake_.notify();
}

awaitable<void> Replicator::ask_heads(net::PeerId peer) {
  auto res = co_await node_.call(peer, "heads", {}, opts_.call_timeout);
  if (!res || stopped_) co_return;
  auto heads = net::decode_cids(*res, net::kMaxHeads);
  if (heads) hear(*heads, peer);
}

awaitable<void> Replicator::tick_loop() {
  while (!stopped_) {
    tick_timer_.expires_after(opts_.tick_interval);
    net::error_code ec;
    co_await tick_timer_.async_wait(net::with_ec(ec));
    if (stopped_) break;
    if (!replica_.tick(std::chrono::steady_clock::now()).empty()) publish_heads();
    if (!streaming_) {
      // Merges that a failed write (a full disk) left staged or queued.
      auto resumed = replica_.resume_merges();
      if (!resumed && !resume_failed_ && log)
        log(LogLevel::error, "cannot resume merging (retried every tick): " + resumed.status().message());
      resume_failed_ = !resumed;
      if (resumed && *resumed > 0) {
        if (log) log(LogLevel::info, "resumed merging: " + std::to_string(*resumed) + " blocks merged");
        publish_heads();
      }
    }
    kick();  // retries wants that stalled
  }
}

void Replicator::on_heads_message(const net::PubsubMessage& m) {
  ++counters_.heads_received;
  auto heads = net::decode_cids(m.data, net::kMaxHeads);
  if (!heads) {
    if (log) log(LogLevel::warn, "bad heads from " + m.origin.to_string() + ": " + heads.status().message());
    return;
  }
  hear(*heads, m.origin);
}

void Replicator::hear(std::span<const Cid> heads, const net::PeerId& from) {
  bool first = heard_.empty();
  for (const auto& h : heads) heard_.push_back({h, from.to_string()});
  if (heard_.size() >= kMaxHeard)
    flush_heads();
  else if (first)
    net::asio::post(node_.io(), [this] { flush_heads(); });
}

void Replicator::flush_heads() {
  if (heard_.empty()) return;
  auto wants = replica_.on_heads(heard_);
  heard_.clear();
  if (!wants) {
    if (log) log(LogLevel::error, "cannot record heads: " + wants.status().message());
    return;
  }
  if (!wants->empty()) kick();
}

size_t Replicator::feed(std::vector<IncomingBlock>& blocks) {
  auto r = replica_.on_blocks(blocks, Accept::wanted);
  if (!r) {
    if (log) log(LogLevel::error, "cannot store fetched blocks: " + r.status().message());
    return 0;
  }
  note_rejected(r->rejected);
  return r->stored;
}

void Replicator::note_rejected(const std::vector<std::string>& rejected) {
  counters_.rejected_blocks += rejected.size();
  if (log && !rejected.empty())
    log(LogLevel::warn, std::to_string(rejected.size()) + " fetched blocks rejected, first: " + rejected.front());
}

net::PeerId Replicator::pick_peer(const Want& w) {
  if (auto hint = net::PeerId::parse(w.peer); hint && node_.is_connected(*hint)) return *hint;
  auto peers = node_.connected();
  if (peers.empty()) return {};
  return peers[rotate_++ % peers.size()];
}

awaitable<void> Replicator::fetch_loop() {
  while (!stopped_) {
    auto wants = replica_.wants(net::kMaxRoots);
    if (!wants || wants->empty() || node_.connected().empty()) {
      syncing_ = false;
      co_await wake_.wait();
      continue;
    }
    syncing_ = true;
    Fetched got = Fetched::nothing;
    if (opts_.use_subdag) got = co_await stream_round(*wants);
    if (got == Fetched::busy) {
      // blocks.get would go to the same busy peers: ask again soon instead.
      co_await wait_retry();
      continue;
    }
    bool progress = got == Fetched::stored;
    if (!progress) progress = co_await get_round(std::move(*wants));
    if (!progress && !stopped_) co_await wake_.wait();  // next tick or new heads
  }
}

awaitable<Replicator::Fetched> Replicator::stream_round(const std::vector<Want>& wants) {
  auto hint = pick_peer(wants.front());
  if (hint.is_empty()) co_return Fetched::nothing;
  auto roots = cids_of(wants);
  Fetched got = co_await stream_from(hint, roots);
  if (got != Fetched::busy) co_return got;
  // The hint (a writer with many new followers) is busy: other peers that
  // already hold the heads serve instead.
  auto sources = co_await holders(roots, hint);
  if (sources.size() > kSourceTries) sources.resize(kSourceTries);
  for (const auto& peer : sources) {
    if (stopped_) break;
    Fetched from = co_await stream_from(peer, roots);
    if (from == Fetched::stored) co_return from;
  }
  co_return Fetched::busy;
}

awaitable<std::vector<net::PeerId>> Replicator::holders(const std::vector<Cid>& roots, net::PeerId skip) {
  auto peers = node_.connected();
  std::erase(peers, skip);
  std::shuffle(peers.begin(), peers.end(), rng_);
  if (peers.size() > kProbePeers) peers.resize(kProbePeers);
  auto found = std::make_shared<std::vector<net::PeerId>>();
  std::vector<Task> probes;
  for (const auto& peer : peers)
    probes.push_back([this, roots, peer, found]() -> awaitable<void> {
      Bytes body;
      std::string method = "heads";
      auto res = co_await node_.call(peer, method, std::move(body), kProbeTimeout);
      auto heads = res ? net::decode_cids(*res, net::kMaxHeads) : Result<std::vector<Cid>>(res.status());
      if (heads && std::ranges::any_of(roots, [&](const Cid& c) { return std::ranges::find(*heads, c) != heads->end(); }))
        found->push_back(peer);
    });
  co_await run_bounded(node_.io(), std::move(probes), kProbePeers, stopped_);
  co_return std::move(*found);
}

bool Replicator::admit_full_sync() {
  auto now = std::chrono::steady_clock::now();
  while (!full_syncs_.empty() && now - full_syncs_.front() > opts_.full_sync_window) full_syncs_.pop_front();
  if (full_syncs_.size() >= opts_.full_syncs) return false;
  full_syncs_.push_back(now);
  return true;
}

awaitable<void> Replicator::wait_retry() {
  auto jitter = std::uniform_int_distribution<int64_t>(0, opts_.busy_retry.count())(rng_);
  retry_timer_.expires_after(opts_.busy_retry + std::chrono::milliseconds(jitter));
  net::error_code ec;
  co_await retry_timer_.async_wait(net::with_ec(ec));
}

awaitable<Replicator::Fetched> Replicator::stream_from(const net::PeerId& peer, std::vector<Cid> roots) {
  auto haves = sample_haves(replica_.store(), net::kMaxHaves);
  StreamIngest ingest(replica_, roots, peer.to_string());
  streaming_ = true;
  struct Done {
    bool& flag;
    ~Done() { flag = false; }
  } done_streaming{streaming_};
  net::SubdagRequest req{std::move(roots), haves ? std::move(*haves) : std::vector<Cid>{},
                         net::kMaxSubdagBlocks};
  ++counters_.streams;
  // Items (~256 KiB) are gathered into transactions of ~kFeedBytes: one
  // commit (and fsync) per ~32 MiB instead of per item.
  size_t stored = 0, buffered = 0;
  std::vector<IncomingBlock> batch;
  auto stage = [&]() -> Status {
    auto r = ingest.add(batch);
    batch.clear();
    buffered = 0;
    if (!r) return r.status();
    stored += r->stored;
    note_rejected(r->rejected);
    return Status::ok();
  };
  auto res = co_await node_.call(peer, "blocks.subdag", net::encode_subdag_request(req),
                                 opts_.call_timeout, [&](ByteView item) -> Status {
                                   auto blocks = net::decode_blocks(item);
                                   if (!blocks) return blocks.status();
                                   counters_.stream_blocks += blocks->size();
                                   for (auto& b : *blocks) {
                                     buffered += b.bytes.size();
                                     batch.push_back(std::move(b));
                                   }
                                   return buffered >= kFeedBytes ? stage() : Status::ok();
                                 });
  // Also after a failure: what arrived was asked for.
  Status last = batch.empty() ? Status::ok() : stage();
  const bool busy = !res && res.status().code() == Code::busy;
  if (busy) ++counters_.busy_answers;
  if (!res && !busy && log)
    log(LogLevel::warn, "sub-DAG stream from " + peer.to_string() + ": " + res.status().message());
  if (!last && log) log(LogLevel::error, "cannot store streamed blocks: " + last.message());
  // Merged oldest first, one bounded transaction per turn of the event loop.
  SyncResult merged;
  for (;;) {
    auto done = ingest.merge_step(merged);
    if (!done) {
      // Left staged; tick_loop() (or the next open()) merges them.
      if (log) log(LogLevel::error, "cannot merge streamed blocks: " + done.status().message());
      break;
    }
    if (*done) break;
    co_await net::asio::post(node_.io(), net::asio::use_awaitable);
  }
  if (stored > 0) co_return Fetched::stored;
  co_return busy ? Fetched::busy : Fetched::nothing;
}

awaitable<size_t> Replicator::get_from(const net::PeerId& peer, std::vector<Cid> cids) {
  ++counters_.gets;
  auto res = co_await node_.call(peer, "blocks.get", net::encode_cids(cids), opts_.call_timeout);
  if (!res) co_return 0;
  auto blocks = net::decode_blocks(*res);
  if (!blocks) {
    if (log)
      log(LogLevel::warn, "bad blocks.get answer from " + peer.to_string() + ": " + blocks.status().message());
    co_return 0;
  }
  counters_.get_blocks += blocks->size();
  co_return feed(*blocks);
}

awaitable<bool> Replicator::get_round(std::vector<Want> wants) {
  // Batches of get_batch CIDs, at most parallel_gets calls in flight.
  auto stored = std::make_shared<size_t>(0);
  std::vector<Task> gets;
  for (size_t at = 0; at < wants.size(); at += opts_.get_batch) {
    auto peer = pick_peer(wants[at]);
    if (peer.is_empty()) break;
    size_t end = std::min(wants.size(), at + opts_.get_batch);
    std::vector<Cid> batch;
    for (size_t i = at; i < end; ++i) batch.push_back(wants[i].cid);
    gets.push_back([this, stored, peer, batch = std::move(batch)]() -> awaitable<void> {
      *stored += co_await get_from(peer, batch);
    });
  }
  co_await run_bounded(node_.io(), std::move(gets), opts_.parallel_gets, stopped_);
  co_return *stored > 0;
}

Result<Bytes> Replicator::serve_get(ByteView body) {
  auto cids = net::decode_cids(body, net::kMaxGetCids);
  if (!cids) return cids.status();
  std::vector<IncomingBlock> out;
  size_t bytes = 0;
  TRELLIS_TRY(replica_.store().read([&](const Txn& txn) {
    for (const auto& c : *cids) {
      if (bytes >= kGetResponseBytes) break;
      auto b = txn.get(replica_.store().dbs().blocks, c.view());
      if (!b) continue;
      bytes += b->size();
      out.push_back({c, Bytes(b->begin(), b->end())});
    }
    return Status::ok();
  }));
  counters_.served_blocks += out.size();
  return net::encode_blocks(out);
}

awaitable<Result<Bytes>> Replicator::serve_subdag(net::ServerCall& call) {
  auto req = net::decode_subdag_request(call.body());
  if (!req) co_return req.status();
  if (req->haves.empty() && !admit_full_sync()) {
    ++counters_.busy_refused;
    co_return Status(Code::busy, "served " + std::to_string(opts_.full_syncs) +
                                     " full syncs just now; fetch from those peers");
  }
  ++counters_.served_streams;
  SubdagWalk walk(req->roots, req->haves, req->max_blocks);
  std::vector<IncomingBlock> out;
  for (bool more = true; more;) {
    out.clear();
    auto r = walk.next(replica_.store(), out, net::kStreamItemBytes, net::kMaxBlocksPerItem);
    if (!r) co_return r.status();
    more = *r;
    if (out.empty()) break;
    counters_.served_blocks += out.size();
    if (!co_await call.send(net::encode_blocks(out)))
      co_return Status(Code::unavailable, "caller went away");
  }
  co_return net::encode_count(walk.sent());
}

}  // namespace trellis
