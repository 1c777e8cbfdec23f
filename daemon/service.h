// A running Trellis peer: the replica, the network node, the replicator and
// the control socket, wired together on one io_context.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "crdt/replica.h"
#include "daemon/config.h"
#include "daemon/control.h"
#include "daemon/group_commit.h"
#include "daemon/logger.h"
#include "daemon/pinning_agent.h"
#include "daemon/replicator.h"
#include "daemon/pinsvc_api.h"
#include "daemon/prometheus.h"
#include "daemon/rest_api.h"
#include "net/node.h"
#include "pinning/tracker.h"

namespace trellis {

// {"ok":false,"error":what} — the reply to a control line that failed.
std::string error_reply(const std::string& what);

class Service {
 public:
  // Applies the config's log section to `logger`, which must outlive the
  // service.
  static Result<std::unique_ptr<Service>> open(net::asio::io_context& io, const std::string& dir,
                                               Logger& logger);
  Status start();
  void stop();
  // Executes one control line; returns one JSON line.
  net::awaitable<std::string> command(std::string line);
  net::Node& node() { return *node_; }

  // ---- shared by the control socket and the HTTP APIs ----
  // Validates, allocates and writes a pin; returns it as stored, once
  // durable (concurrent writes share one commit: daemon/group_commit.h).
  // Errors: invalid_argument (a bad request, with what is wrong), others
  // (state).
  net::awaitable<Result<pinning::Pin>> add_pin(pinning::Pin request);
  // `denied` (with what to do) on a follower: every write path asks first.
  Status writable() const;
  // Removes a pin from the shared state; not_found when it is not there.
  net::awaitable<Result<pinning::Pin>> remove_pin(Cid cid);
  const DaemonConfig& config() const { return config_; }
  const Logger& logger() const { return *logger_; }
  void log(LogLevel level, const std::string& line) const { logger_->write(level, "trellisd", line); }
  const std::string& peername() const { return peername_; }
  Replica& replica() { return *replica_; }
  Replicator& replicator() { return *replicator_; }
  // Null when pinning is off (no ipfs_api).
  pinning::Tracker* tracker() { return tracker_.get(); }
  pinning::IpfsClient* ipfs() { return ipfs_.get(); }
  const pinning::PinSource* pins() const { return pins_.get(); }
  PinningAgent* agent() { return agent_.get(); }
  std::vector<const HttpApi*> http_apis() const;

 private:
  Service() = default;
  std::string info();
  // The replica's heads and table counts without info()'s scan of every key
  // (a cheap poll while a peer syncs a large state).
  std::string heads();
  std::string sync_command(const std::string& line, const std::vector<std::string>& words);
  std::string write(const std::string& line);
  // Pinning commands (daemon/pin_commands.cc).
  net::awaitable<std::string> pin_command(std::vector<std::string> words);
  net::awaitable<std::string> pin(std::vector<std::string> words);
  net::awaitable<std::string> unpin(std::vector<std::string> words);

  net::asio::io_context* io_ = nullptr;
  std::string dir_;
  Logger* logger_ = nullptr;
  DaemonConfig config_;
  std::string peername_;
  std::unique_ptr<Replica> replica_;
  std::unique_ptr<net::Node> node_;
  std::unique_ptr<Replicator> replicator_;
  std::unique_ptr<GroupCommit> writer_;  // the APIs' pin writes
  std::unique_ptr<ControlServer> control_;
  // Pinning; absent when ipfs_api is "".
  std::unique_ptr<pinning::IpfsClient> ipfs_;
  std::unique_ptr<pinning::ReplicaPins> pins_;
  std::unique_ptr<pinning::Tracker> tracker_;
  std::unique_ptr<PinningAgent> agent_;
  std::unique_ptr<RestApi> rest_;  // absent when restapi.listen is ""
  std::unique_ptr<PinSvcApi> pinsvc_;  // absent when pinsvcapi.listen is ""
  std::unique_ptr<MetricsServer> metrics_;  // absent when metrics_listen is ""
};

}  // namespace trellis
