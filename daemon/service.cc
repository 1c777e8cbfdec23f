#include "daemon/service.h"

#include <sodium.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <set>
#include <nlohmann/json.hpp>
#include <sstream>

#include "daemon/peer_status.h"

namespace trellis {

using json = nlohmann::json;

Result<std::unique_ptr<Service>> Service::open(net::asio::io_context& io, const std::string& dir,
                                               Logger& logger) {
  // Connections (peers, API clients) each take a descriptor: use what the
  // hard limit allows rather than the usual soft 1,024.
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = std::min<rlim_t>(nofile.rlim_max, 1 << 20);
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
  std::unique_ptr<Service> s(new Service());
  s->io_ = &io;
  s->dir_ = dir;
  s->logger_ = &logger;
  auto cfg = DaemonConfig::load(config_path(dir));
  if (!cfg) return cfg.status();
  s->config_ = std::move(*cfg);
  logger.set_options({*parse_log_level(s->config_.log_level), s->config_.log_format == "json"});
  s->peername_ = s->config_.peername;
  if (s->peername_.empty()) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    s->peername_ = host;
  }
  auto id = net::Identity::load(identity_path(dir));
  if (!id) return id.status();
  ReplicaOptions ro;
  ro.sync = s->config_.sync_writes;
  ro.rebroadcast_interval = std::chrono::milliseconds(s->config_.rebroadcast_ms);
  ro.follower = s->config_.follower_mode;
  auto replica = Replica::open(state_path(dir), ro);
  if (!replica) return replica.status();
  s->replica_ = std::move(*replica);

  net::NodeOptions no;
  no.listen = s->config_.listen;
  no.bootstrap = s->config_.bootstrap;
  no.peerstore_path = peerstore_path(dir);
  no.max_connections = s->config_.max_connections;
  no.log = logger.component("net");
  no.peerstore.seed = randombytes_random();
  no.pubsub.seed = randombytes_random();
  if (!s->config_.trust_everyone()) {
    std::set<net::PeerId> trusted{id->id()};  // a peer trusts itself
    for (const auto& p : s->config_.trusted_peers) trusted.insert(*net::PeerId::parse(p));
    no.trusted = [trusted = std::move(trusted)](const net::PeerId& p) { return trusted.contains(p); };
  }
  s->node_ = std::make_unique<net::Node>(io, std::move(*id), s->config_.secret, std::move(no));
  s->replicator_ = std::make_unique<Replicator>(*s->node_, *s->replica_);
  s->replicator_->log = logger.component("crdt");
  s->writer_ = std::make_unique<GroupCommit>(io, *s->replica_,
                                             [raw = s.get()] { raw->replicator_->announce(); });
  s->control_ = std::make_unique<ControlServer>(
      io, control_path(dir), [raw = s.get()](std::string line) { return raw->command(std::move(line)); });
  if (!s->config_.ipfs_api.empty()) {
    auto ep = ipfs_endpoint(s->config_.ipfs_api);
    if (!ep) return ep.status();
    pinning::IpfsOptions io_opts;
    io_opts.host = ep->first;
    io_opts.port = ep->second;
    io_opts.pin_timeout = std::chrono::milliseconds(s->config_.pin_timeout_ms);
    s->ipfs_ = std::make_unique<pinning::IpfsClient>(io, io_opts);
    s->pins_ = std::make_unique<pinning::ReplicaPins>(*s->replica_);
    pinning::TrackerOptions to;
    to.self = s->node_->id().to_string();
    to.queue.concurrency = s->config_.pin_concurrency;
    to.recover_interval = std::chrono::milliseconds(s->config_.recover_interval_ms);
    to.log = logger.component("tracker");
    s->tracker_ = std::make_unique<pinning::Tracker>(io, *s->ipfs_, *s->pins_, to);
    s->replica_->set_hook([raw = s.get()](const Change& c) { raw->tracker_->on_change(c); });
    AgentOptions ao;
    ao.metrics_ttl = std::chrono::milliseconds(s->config_.metrics_ttl_ms);
    ao.repin_after = std::chrono::milliseconds(s->config_.repin_after_ms);
    ao.repin = s->config_.repin;
    ao.tags = s->config_.tags;
    ao.allocator.allocate_by = s->config_.allocate_by;
    ao.follower = s->config_.follower_mode;
    ao.catching_up = [raw = s.get()] { return raw->replicator_ && raw->replicator_->syncing(); };
    s->agent_ = std::make_unique<PinningAgent>(
        *s->node_, *s->replica_, *s->ipfs_, *s->tracker_, *s->pins_, ao,
        [raw = s.get()] { raw->replicator_->announce(); }, logger.component("pinning"));
  }
  register_peer_methods(*s);
  if (!s->config_.restapi.listen.empty())
    s->rest_ = std::make_unique<RestApi>(*s, s->config_.restapi);
  if (!s->config_.metrics_listen.empty())
    s->metrics_ = std::make_unique<MetricsServer>(*s, s->config_.metrics_listen);
  if (!s->config_.pinsvcapi.listen.empty())
    s->pinsvc_ = std::make_unique<PinSvcApi>(*s, s->config_.pinsvcapi);
  return s;
}

Status Service::start() {
  TRELLIS_TRY(node_->start());
  TRELLIS_TRY(replicator_->start());
  TRELLIS_TRY(control_->start());
  if (tracker_) {
    tracker_->start();
    TRELLIS_TRY(agent_->start());
  }
  if (rest_) {
    TRELLIS_TRY(rest_->start());
    log(LogLevel::info, "REST API on " + config_.restapi.listen + " (port " + std::to_string(rest_->port()) + ")");
  }
  if (metrics_) {
    TRELLIS_TRY(metrics_->start());
    log(LogLevel::info, "Prometheus metrics at http://" + ipfs_endpoint(config_.metrics_listen)->first +
                            ":" + std::to_string(metrics_->port()) + "/metrics");
  }
  if (pinsvc_) {
    TRELLIS_TRY(pinsvc_->start());
    log(LogLevel::info, "Pinning Service API on " + config_.pinsvcapi.listen);
  }
  return Status::ok();
}

void Service::stop() {
  if (rest_) rest_->stop();
  if (pinsvc_) pinsvc_->stop();
  if (metrics_) metrics_->stop();
  control_->stop();
  if (tracker_) tracker_->stop();
  if (agent_) agent_->stop();
  replicator_->stop();
  node_->stop();
}

Status Service::writable() const {
  if (!config_.follower_mode) return Status::ok();
  return Status(Code::denied, "follower mode: this peer follows the cluster \"" + config_.name +
                                  "\" read-only; write through one of its trusted peers");
}

std::vector<const HttpApi*> Service::http_apis() const {
  std::vector<const HttpApi*> out;
  if (rest_) out.push_back(rest_.get());
  if (pinsvc_) out.push_back(pinsvc_.get());
  return out;
}

std::string error_reply(const std::string& what) {
  return json{{"ok", false}, {"error", what}}.dump();
}

namespace {

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

}  // namespace

net::awaitable<std::string> Service::command(std::string line) {
  auto w = words(line);
  if (w.empty()) co_return error_reply("empty command; try: help");
  const std::string cmd = w[0];
  if (cmd == "pin" || cmd == "unpin" || cmd == "status" || cmd == "recover")
    co_return co_await pin_command(std::move(w));
  co_return sync_command(line, w);
}

std::string Service::sync_command(const std::string& line, const std::vector<std::string>& w) {
  const std::string& cmd = w[0];
  if (cmd == "info") return info();
  if (cmd == "heads") return heads();
  if (cmd == "get" && w.size() == 2) {
    auto v = replica_->get(w[1]);
    if (!v) return error_reply(v.status().to_string());
    json j{{"ok", true}, {"found", v->has_value()}};
    if (*v) j["value"] = std::string(as_chars(**v));
    // Values are bytes (a pin is msgpack): bytes that are not UTF-8 come out
    // as U+FFFD instead of dump() throwing and the reply never being sent.
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  if (cmd == "put" || cmd == "del" || cmd == "load") return write(line);
  return error_reply("unknown command \"" + line +
                     "\"; commands: info, heads, get KEY, put KEY VALUE, del KEY, load N PREFIX [BATCH], "
                     "pin CID [OPTION=VALUE...], unpin CID, status [CID], recover [CID]");
}

std::string Service::write(const std::string& line) {
  if (Status st = writable(); !st) return error_reply(st.message());
  auto w = words(line);
  Result<Cid> cid = Status(Code::invalid_argument, "usage: put KEY VALUE | del KEY | load N PREFIX [BATCH]");
  size_t commits = 0;
  if (w[0] == "put" && w.size() == 3) {
    cid = replica_->put(w[1], as_bytes(w[2]));
    commits = 1;
  } else if (w[0] == "del" && w.size() == 2) {
    cid = replica_->remove(w[1]);
    commits = 1;
  } else if (w[0] == "load" && (w.size() == 3 || w.size() == 4)) {
    // N writes "PREFIX-i" = "v-i", BATCH per commit (default 1).
    size_t n = 0, batch = 1;
    auto num = [](const std::string& t, size_t& out) {
      auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
      return ec == std::errc() && p == t.data() + t.size();
    };
    if (!num(w[1], n) || (w.size() == 4 && (!num(w[3], batch) || batch == 0)))
      return error_reply("load: N and BATCH must be positive integers");
    Batch b;
    for (size_t i = 0; i < n; ++i) {
      std::string v = "v-" + std::to_string(i);
      if (Status st = b.put(w[2] + "-" + std::to_string(i), as_bytes(v)); !st)
        return error_reply(st.to_string());
      if (b.size() == batch || i + 1 == n) {
        cid = replica_->commit(b);
        if (!cid) break;
        ++commits;
        b = Batch();
      }
    }
  }
  if (commits > 0) replicator_->announce();  // also when a later commit of a load failed
  if (!cid) return error_reply(cid.status().to_string());
  return json{{"ok", true}, {"cid", cid->to_string()}, {"commits", commits}}.dump();
}

std::string Service::heads() {
  auto ri = replica_->info();
  if (!ri) return error_reply(ri.status().to_string());
  json heads = json::array();
  for (const auto& [cid, height] : ri->heads) heads.push_back(cid.to_string());
  return json{{"ok", true},          {"heads", heads},       {"max_height", ri->max_height},
              {"blocks", ri->blocks}, {"merged", ri->merged}, {"pending", ri->pending},
              {"staged", ri->staged}, {"wants", ri->wants},   {"elements", ri->elements}}
      .dump();
}

std::string Service::info() {
  auto ri = replica_->info();
  if (!ri) return error_reply(ri.status().to_string());
  // A digest of the whole state: equal digests mean equal key/value sets.
  crypto_hash_sha256_state h;
  crypto_hash_sha256_init(&h);
  size_t keys = 0;
  Status st = replica_->scan("", [&](std::string_view k, ByteView v) {
    uint64_t lens[2] = {k.size(), v.size()};
    crypto_hash_sha256_update(&h, reinterpret_cast<const uint8_t*>(lens), sizeof lens);
    crypto_hash_sha256_update(&h, reinterpret_cast<const uint8_t*>(k.data()), k.size());
    crypto_hash_sha256_update(&h, v.data(), v.size());
    ++keys;
    return true;
  });
  if (!st) return error_reply(st.to_string());
  uint8_t digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&h, digest);
  json heads = json::array();
  for (const auto& [cid, height] : ri->heads) heads.push_back(cid.to_string());
  json peers = json::array();
  for (const auto& p : node_->connected()) peers.push_back(p.to_string());
  json listen = json::array();
  for (const auto& a : node_->listen_addrs()) listen.push_back(a.to_string());
  const auto& c = replicator_->counters();
  const net::Traffic traffic = node_->traffic();
  return json{{"ok", true},
              {"peer", node_->id().to_string()},
              {"cluster", config_.name},
              {"follower", config_.follower_mode},
              {"listen", listen},
              {"peers", peers},
              {"heads", heads},
              {"max_height", ri->max_height},
              {"blocks", ri->blocks},
              {"merged", ri->merged},
              {"pending", ri->pending},
              {"staged", ri->staged},
              {"wants", ri->wants},
              {"keys", keys},
              {"state", to_hex(ByteView(digest, sizeof digest))},
              {"syncing", replicator_->syncing()},
              {"streams", c.streams},
              {"stream_blocks", c.stream_blocks},
              {"gets", c.gets},
              {"get_blocks", c.get_blocks},
              {"rejected_blocks", c.rejected_blocks},
              {"served_streams", c.served_streams},
              {"full_syncs_refused", c.busy_refused},
              {"served_blocks", c.served_blocks},
              {"bytes_sent", traffic.sent},
              {"bytes_received", traffic.received},
              {"pubsub_accepted", node_->pubsub_counters().accepted},
              {"pubsub_duplicates", node_->pubsub_counters().duplicates},
              {"pubsub_rejected", node_->pubsub_counters().rejected},
              {"pubsub_published", node_->pubsub_counters().published}}
      .dump();
}

}  // namespace trellis
