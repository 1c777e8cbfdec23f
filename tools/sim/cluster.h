// Cluster: N replicas on real LMDB directories joined by a deterministic,
// seeded virtual network. Used by the simulator (run_simulation) and by the
// scenario tests in tests/sim.
//
// Everything runs on one thread in virtual time: an event queue ordered by
// (virtual ms, sequence number) holds messages in flight and timers, and
// step() pops the earliest one. Nothing sleeps and nothing reads a clock, so
// a seed always replays the same run.
//
// Protocol (what a daemon would do over a real network):
//   heads    broadcast after every local write and on Replica::tick
//            (periodic rebroadcast); the receiver calls on_heads() and
//            requests the wants it returns from the announcer.
//   request  a list of wanted CIDs sent to one peer; the peer answers with
//            the blocks it stores (read straight from its `blocks` db) and
//            ignores the rest.
//   blocks   the receiver calls on_blocks(); the new wants it returns are
//            requested from the want's peer hint (or the sender).
// Every retry interval each replica re-requests its outstanding wants()
// from the hinted peer or a random one, so lost messages and crashes only
// slow things down. A reopened replica asks for its wants() at once.
//
// Faults: per-message random delay (reordering), duplication and drop;
// partitions (messages between groups are lost, also those in flight);
// drop rules; crashes (the Replica object is destroyed and later reopened
// from its directory); and injected write failures (ReplicaOptions::
// fail_write), after which the replica is crashed like a process that hit
// an I/O error.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "crdt/replica.h"

namespace trellis::sim {

struct NetConfig {
  uint64_t min_delay_ms = 1;   // each message is delayed uniformly in
  uint64_t max_delay_ms = 20;  // [min, max]: different delays reorder
  double drop = 0.0;           // probability that a message is lost
  double duplicate = 0.0;      // probability that it is delivered twice
};

// Replica options for simulations: a 1 MiB initial map (so the map-growth
// path runs), no fsync, and rebroadcasts every 300 virtual ms.
inline ReplicaOptions sim_replica_options() {
  ReplicaOptions o;
  o.initial_map_size = size_t{1} << 20;
  o.sync = false;
  o.rebroadcast_interval = std::chrono::milliseconds(300);
  return o;
}

struct ClusterOptions {
  size_t replicas = 3;
  uint64_t seed = 1;
  std::string dir;    // parent of the replica directories; empty: a new temp dir
  bool keep = false;  // keep the directory when the Cluster is destroyed
  // Base options of every replica. fail_write is replaced by the cluster's
  // own fault injection; rebroadcast_interval is virtual time.
  ReplicaOptions replica = sim_replica_options();
  NetConfig net;
  uint64_t tick_ms = 50;    // how often replicas are ticked
  uint64_t retry_ms = 250;  // how often outstanding wants are re-requested
  size_t want_batch = 64;   // CIDs per request message
  // A replica crashed by an injected write failure is reopened this long
  // after (0: it stays down until reopen()).
  uint64_t restart_ms = 100;
};

enum class MsgKind { heads, request, blocks };
const char* kind_name(MsgKind k);

struct Message {
  MsgKind kind = MsgKind::heads;
  size_t from = 0, to = 0;
  std::vector<Cid> cids;              // heads or requested CIDs
  std::vector<IncomingBlock> blocks;  // blocks
};

struct ClusterStats {
  size_t messages = 0;    // messages sent (duplicates counted once)
  size_t delivered = 0;   // messages handed to a replica
  size_t dropped = 0;     // lost: random drop, drop rule, partition or crash
  size_t duplicated = 0;  // extra copies delivered
  size_t crashes = 0;
  size_t failed_writes = 0;  // injected write failures
  size_t partitions = 0;
  size_t blocks_sent = 0;
  size_t local_writes = 0;  // successful put/remove/commit calls
  size_t steps = 0;
};

class Cluster {
 public:
  // Creates the directory and opens opts.replicas replicas ("r0", "r1", ...).
  static Result<std::unique_ptr<Cluster>> create(const ClusterOptions& opts);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // ---- replicas ----
  size_t size() const { return nodes_.size(); }
  Result<size_t> add_replica();
  bool up(size_t i) const { return nodes_[i]->replica != nullptr; }
  // Precondition: up(i).
  Replica& replica(size_t i) { return *nodes_[i]->replica; }
  const std::string& name(size_t i) const { return nodes_[i]->name; }
  const std::string& dir() const { return dir_; }
  // Called for every change on every replica; survives crashes and reopens.
  void set_hook(std::function<void(size_t, const Change&)> hook) { hook_ = std::move(hook); }
  // Receives a line for each fault the cluster itself handles (injected
  // failures, crashes, reopens).
  void set_trace(std::function<void(std::string_view)> trace) { trace_ = std::move(trace); }

  // ---- local writes: on success the new heads are broadcast ----
  // An injected write failure crashes the replica (see fail_writes_after).
  // Writing to a replica that is down fails with invalid_argument.
  Result<Cid> put(size_t i, std::string_view key, ByteView value);
  Result<Cid> remove(size_t i, std::string_view key);
  Result<Cid> commit(size_t i, const Batch& batch);
  // Every key written through put/remove, reported by a hook, listed by
  // scan_map() or noted here: the universe map() reads with get().
  const std::set<std::string>& keys() const { return keys_; }
  void note_key(std::string_view key) { keys_.emplace(key); }

  // ---- network ----
  uint64_t now_ms() const { return now_; }
  std::mt19937_64& rng() { return rng_; }
  NetConfig& net() { return opts_.net; }
  void broadcast_heads(size_t i);
  // Sends a request for up to want_batch of i's wants to `peer` (a random
  // other replica when nullopt).
  void request_wants(size_t i, std::optional<size_t> peer = std::nullopt);
  // Replicas in different groups cannot talk; an index missing from every
  // group is isolated. heal() reconnects everyone.
  void partition(const std::vector<std::vector<size_t>>& groups);
  void heal();
  bool connected(size_t a, size_t b) const { return group_[a] == group_[b]; }
  bool partitioned() const;
  // Messages matching a rule are lost when sent. Returns the rule's id.
  size_t add_drop_rule(std::function<bool(const Message&)> rule);
  void remove_drop_rule(size_t id);
  size_t in_flight() const { return in_flight_; }

  // ---- faults ----
  // Destroys the Replica object (as if the process died between calls).
  void crash(size_t i);
  // Replica::open on the same directory; then broadcasts heads and asks
  // peers for its wants().
  Status reopen(size_t i);
  // Reopens replica i after delay_ms, retrying every restart_ms while the
  // reopen hits an injected failure.
  void reopen_later(size_t i, uint64_t delay_ms);
  // The n-th write operation (1 = the next) of replica i fails with an I/O
  // error; the call that hit it returns the error and the replica is
  // crashed (to be reopened by the caller or a timer). On a replica that is
  // down it applies from its reopen on (the reopen's own recovery work
  // included). n = 0 disarms.
  void fail_writes_after(size_t i, size_t n);
  // Runs fn at virtual time now_ms() + delay_ms.
  void at(uint64_t delay_ms, std::function<void()> fn);

  // ---- running ----
  // Processes the next event (a message or a timer), advancing virtual time.
  void step();
  // Processes events until virtual time has advanced by ms.
  void run_for(uint64_t ms);
  // Steps until quiet() (checked whenever no message is in flight), at most
  // max_steps; false if that bound was hit.
  bool run_until_quiet(size_t max_steps = 200'000);
  // All replicas up, no message in flight, no wants anywhere, equal heads.
  bool quiet();

  // ---- checking ----
  // Key → value of replica i over keys() (through get()).
  Result<std::map<std::string, Bytes>> map(size_t i);
  // Everything scan("") lists on replica i.
  Result<std::map<std::string, Bytes>> scan_map(size_t i);
  Result<std::vector<Cid>> sorted_heads(size_t i);
  // Empty when every replica holds the same map and heads and scan("")
  // agrees with get(); otherwise what differs first (replica, key, values).
  std::string compare();
  // Why the cluster is not quiet (who is down, what is in flight, who wants
  // what), for failure reports.
  std::string describe();
  // Unexpected failures of replica calls (not injected): a replica bug.
  const std::vector<std::string>& errors() const { return errors_; }
  const ClusterStats& stats() const { return stats_; }

 private:
  struct Node {
    std::string name, dir;
    std::unique_ptr<Replica> replica;
    uint64_t next_retry = 0;
    size_t fail_countdown = 0;  // 0: no injected failure armed
    bool injected = false;      // the armed failure fired
  };
  struct Event {
    uint64_t time = 0, seq = 0;
    std::optional<Message> msg;  // a delivery, else a timer
    std::function<void()> fn;
  };
  struct Later {
    bool operator()(const Event& a, const Event& b) const {
      return a.time != b.time ? a.time > b.time : a.seq > b.seq;
    }
  };

  explicit Cluster(const ClusterOptions& opts);
  Status open_node(size_t i);
  void send(Message m);
  void push(uint64_t time, std::optional<Message> msg, std::function<void()> fn);
  void deliver(const Message& m);
  void tick();
  void trace(const std::string& line);
  // Handles a failed replica call: crash after an injected failure, record
  // an error otherwise. Returns false.
  bool failed(size_t i, const char* what, const Status& st);
  Result<Cid> write(size_t i, const std::function<Result<Cid>(Replica&)>& fn);
  std::optional<size_t> index_of(std::string_view name) const;
  size_t random_peer(size_t i);
  uint64_t uniform(uint64_t lo, uint64_t hi);  // inclusive
  bool chance(double p);

  ClusterOptions opts_;
  std::string dir_;
  bool own_dir_ = false;
  std::mt19937_64 rng_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<int> group_;
  std::map<size_t, std::function<bool(const Message&)>> drop_rules_;
  size_t next_rule_ = 0;
  std::vector<Event> queue_;  // a heap ordered by Later
  uint64_t now_ = 0, seq_ = 0;
  size_t in_flight_ = 0;
  std::function<void(size_t, const Change&)> hook_;
  std::function<void(std::string_view)> trace_;
  std::set<std::string> keys_;
  std::vector<std::string> errors_;
  ClusterStats stats_;
};

// Hex of at most the first 16 bytes, for reports.
std::string short_hex(ByteView b);
// The tail of a CID's text form: enough to tell blocks apart in reports.
std::string short_cid(const Cid& c);

}  // namespace trellis::sim
