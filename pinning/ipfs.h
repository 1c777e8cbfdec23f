// IpfsClient: the IPFS connector — the Kubo RPC API (/api/v0/…, POST only)
// over HTTP/1.1 with Boost.Beast, asynchronous.
//
// Connections are kept alive and pooled; at most max_connections calls run
// at once and the rest wait their turn. Every call has a deadline; pin/add
// instead has a no-progress timeout (reset by each progress line the daemon
// sends) and the daemon is given the same timeout, so a CID nobody provides
// fails instead of hanging. A daemon that is down fails calls at once with
// Code::unavailable and a message saying where it was looked for; the next
// call dials again, so the client recovers by itself when IPFS comes back.
// Response bodies and lines are bounded (max_response_bytes).
//
// Threading: everything on the io_context's one thread. The client must
// outlive every call it starts (the tracker owns both).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "crdt/cid.h"
#include "net/asio.h"
#include "pinning/pin.h"
#include "pinning/status.h"

namespace trellis::pinning {

struct IpfsOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 5001;
  size_t max_connections = 16;
  std::chrono::milliseconds connect_timeout{5'000};
  std::chrono::milliseconds call_timeout{60'000};  // every call but pin/add and pin/ls
  std::chrono::milliseconds pin_timeout{120'000};  // pin/add: longest wait without progress
  std::chrono::milliseconds list_timeout{10'000};  // pin/ls: longest wait between lines
  size_t max_response_bytes = size_t{4} << 20;
};

struct IpfsId {
  std::string id;
  std::vector<std::string> addresses;
  std::string agent_version;
};

struct RepoStat {
  uint64_t repo_size = 0;
  uint64_t storage_max = 0;
  uint64_t num_objects = 0;
};

// Cancels one call from elsewhere on the same thread: the call's connection
// is closed and the call returns Code::unavailable "cancelled".
class CancelToken {
 public:
  void cancel();
  bool cancelled() const { return cancelled_; }
  // Used by the client: what cancel() does while a call runs.
  void on_cancel(std::function<void()> fn) { on_cancel_ = std::move(fn); }

 private:
  bool cancelled_ = false;
  std::function<void()> on_cancel_;
};

class IpfsClient {
 public:
  IpfsClient(net::asio::io_context& io, IpfsOptions opts);
  ~IpfsClient();
  IpfsClient(const IpfsClient&) = delete;
  IpfsClient& operator=(const IpfsClient&) = delete;

  const IpfsOptions& options() const { return opts_; }
  std::string endpoint() const;  // "127.0.0.1:5001"

  net::awaitable<Result<IpfsId>> id();
  // Pins `cid` (recursive or direct); progress(n) gets the daemon's count of
  // blocks fetched so far when it reports one. Already pinned is success.
  net::awaitable<Status> pin_add(Cid cid, Mode mode, std::function<void(uint64_t)> progress = {},
                                 std::shared_ptr<CancelToken> cancel = {});
  // Pins `to` recursively by updating the recursive pin of `from` (only the
  // difference is fetched); `from` stays pinned (unpin=false): the state
  // decides when it goes.
  net::awaitable<Status> pin_update(Cid from, Cid to, std::shared_ptr<CancelToken> cancel = {});
  // Unpins `cid`; a CID that is not pinned is success.
  net::awaitable<Status> pin_rm(Cid cid, std::shared_ptr<CancelToken> cancel = {});
  // What IPFS holds for one CID (none when it is not pinned).
  net::awaitable<Result<IpfsPin>> pin_ls_one(Cid cid);
  // Streams every pin of `type` ("recursive", "direct" or "all") to fn
  // until it returns false, without holding the list.
  net::awaitable<Status> pin_ls(std::string type, std::function<bool(const Cid&, IpfsPin)> fn);
  net::awaitable<Result<RepoStat>> repo_stat();
  net::awaitable<Status> swarm_connect(std::string multiaddr);
  // Stores `data` as a raw block (for tests, benchmarks and the demo).
  net::awaitable<Result<Cid>> block_put(Bytes data);

 private:
  struct Impl;
  IpfsOptions opts_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace trellis::pinning
