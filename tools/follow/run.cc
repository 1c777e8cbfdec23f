// trellis-follow NAME run: wait for IPFS, then run the follower with sync
// progress on stdout.
#include <boost/asio/signal_set.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <thread>

#include "daemon/data_lock.h"
#include "daemon/service.h"
#include "tools/follow/follow.h"

namespace trellis::follow {

namespace {

std::atomic<bool> interrupted{false};

// Waits until the IPFS API answers; false if interrupted first.
bool wait_for_ipfs(const std::string& api) {
  auto on_signal = [](int) { interrupted = true; };
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  bool said = false;
  auto last = std::chrono::steady_clock::now();
  while (!interrupted) {
    auto id = probe_ipfs(api, std::chrono::seconds(2));
    if (id) {
      std::printf("IPFS daemon %s is up at %s\n", id->id.c_str(), api.c_str());
      break;
    }
    if (!said || std::chrono::steady_clock::now() - last > std::chrono::seconds(30)) {
      std::printf("waiting for the IPFS daemon at %s (%s); start it with `ipfs daemon`\n",
                  api.c_str(), id.status().message().c_str());
      std::fflush(stdout);
      said = true;
      last = std::chrono::steady_clock::now();
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  return !interrupted;
}

// Prints a progress line every 2 s while something changes.
class Progress {
 public:
  explicit Progress(Service& s) : s_(s), timer_(s.node().io()) {}
  void start() { tick(); }
  void stop() { timer_.cancel(); }

 private:
  void tick() {
    print();
    timer_.expires_after(std::chrono::seconds(2));
    timer_.async_wait([this](const net::error_code& ec) {
      if (!ec) tick();
    });
  }
  void print() {
    auto info = s_.replica().info();
    if (!info) return;
    size_t queue = s_.tracker() ? s_.tracker()->queue().size() : 0;
    size_t peers = s_.node().connected().size();
    std::string line;
    if (info->wants > 0 || info->pending > 0 || info->staged > 0)
      line = "syncing: " + std::to_string(info->merged) + " blocks merged, " +
             std::to_string(info->wants) + " wanted, " + std::to_string(info->pending) + " pending";
    else if (info->merged > 0)
      line = "in sync: " + std::to_string(info->merged) + " blocks, height " +
             std::to_string(info->max_height);
    else
      line = "waiting for the trusted peers' heads";
    line += "; " + std::to_string(peers) + " peers connected; " + std::to_string(queue) +
            " pin operations queued";
    if (line == last_) return;
    last_ = line;
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  }

  Service& s_;
  net::asio::steady_timer timer_;
  std::string last_;
};

}  // namespace

int cmd_run(const std::string& dir) {
  auto lock = DataLock::acquire(dir);
  if (!lock) return fail(lock.status().message());
  auto cfg = DaemonConfig::load(config_path(dir));
  if (!cfg) return fail(cfg.status().message());
  if (!cfg->ipfs_api.empty() && !wait_for_ipfs(cfg->ipfs_api)) return kExitFailed;
  net::asio::io_context io;
  Logger logger;
  auto svc = Service::open(io, dir, logger);
  if (!svc) return fail(svc.status().message());
  if (Status st = (*svc)->start(); !st) return fail(st.message());
  std::printf("following cluster \"%s\" as %s (%zu trusted peers); API: %s\n", cfg->name.c_str(),
              (*svc)->node().id().to_string().c_str(), cfg->trusted_peers.size(),
              control_path(dir).c_str());
  std::fflush(stdout);
  Progress progress(**svc);
  progress.start();
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const net::error_code& ec, int) {
    if (ec) return;
    std::printf("stopping\n");
    progress.stop();
    (*svc)->stop();
  });
  io.run();
  return kExitOk;
}

}  // namespace trellis::follow
