// trellis-follow: the cluster listing, NAME list and NAME info.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "crdt/files.h"
#include "crdt/replica.h"
#include "daemon/config.h"
#include "daemon/control.h"
#include "pinning/pin.h"
#include "tools/follow/follow.h"

namespace trellis::follow {

using json = nlohmann::json;

Result<pinning::IpfsId> probe_ipfs(const std::string& api_multiaddr,
                                   std::chrono::milliseconds timeout) {
  auto ep = ipfs_endpoint(api_multiaddr);
  if (!ep) return ep.status();
  net::asio::io_context io;
  pinning::IpfsOptions o;
  o.host = ep->first;
  o.port = ep->second;
  o.connect_timeout = o.call_timeout = timeout;
  pinning::IpfsClient ipfs(io, o);
  Result<pinning::IpfsId> out = Status(Code::unavailable, "no answer within the timeout");
  net::asio::co_spawn(
      io, [&]() -> net::awaitable<void> { out = co_await ipfs.id(); }, net::asio::detached);
  io.run_for(timeout + std::chrono::seconds(1));
  return out;
}

std::optional<std::string> running_info(const std::string& dir) {
  auto reply = control_request(control_path(dir), "info");
  if (!reply || reply->find("\"ok\":true") == std::string::npos) return std::nullopt;
  return *reply;
}

namespace {

std::string text_or(const Result<std::string>& r, const std::string& fallback) {
  if (!r) return fallback;
  std::string s = *r;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

std::string peer_id(const std::string& dir) {
  auto id = net::Identity::load(identity_path(dir));
  return id ? id->id().to_string() : "?";
}

// Offline: every pin of the local copy of the pinset, with the status IPFS
// gives for the ones this peer should hold.
int list_offline(const std::string& dir, bool as_json) {
  auto cfg = DaemonConfig::load(config_path(dir));
  if (!cfg) return fail(cfg.status().message());
  const std::string self = peer_id(dir);
  std::unordered_set<std::string> pinned;
  bool ipfs_up = false;
  if (auto ep = ipfs_endpoint(cfg->ipfs_api)) {
    net::asio::io_context io;
    pinning::IpfsOptions o{ep->first, ep->second};
    o.connect_timeout = std::chrono::seconds(2);
    pinning::IpfsClient ipfs(io, o);
    net::asio::co_spawn(
        io,
        [&]() -> net::awaitable<void> {
          std::string type = "recursive";
          std::function<bool(const Cid&, pinning::IpfsPin)> add = [&](const Cid& c, pinning::IpfsPin) {
            pinned.insert(c.to_string());
            return true;
          };
          Status st = co_await ipfs.pin_ls(type, add);
          ipfs_up = st.is_ok();
        },
        net::asio::detached);
    io.run();
  }
  if (!as_json)
    std::fprintf(stderr, "the follower is not running: pins from the local copy of the pinset, "
                 "status from %s\n", ipfs_up ? "IPFS" : "nowhere (IPFS is not answering either)");
  if (!std::filesystem::exists(state_path(dir))) return kExitOk;
  ReplicaOptions ro;
  ro.read_only = true;
  auto replica = Replica::open(state_path(dir), ro);
  if (!replica) return fail(replica.status().message());
  Status st = (*replica)->scan(pinning::kPinPrefix, [&](std::string_view, ByteView value) {
    auto pin = pinning::decode_pin(value);
    if (!pin) return true;
    const std::string cid = pin->cid.to_string();
    std::string status = !pin->allocated_to(self) ? "remote"
                         : !ipfs_up               ? "unknown"
                         : pinned.count(cid)      ? "pinned"
                                                  : "unpinned";
    if (as_json)
      std::printf("%s\n", json{{"cid", cid}, {"name", pin->name}, {"status", status}}.dump().c_str());
    else
      std::printf("%s  %-10s %s\n", cid.c_str(), status.c_str(), pin->name.c_str());
    return true;
  });
  return st ? kExitOk : fail(st.message());
}

}  // namespace

int cmd_list(const std::string& dir, const std::vector<std::string>& args) {
  const bool as_json = args.size() == 1 && args[0] == "--json";
  if (!args.empty() && !as_json) return fail("list takes only --json");
  if (!running_info(dir)) return list_offline(dir, as_json);
  auto reply = control_request(control_path(dir), "status");
  json j = reply ? json::parse(*reply, nullptr, false) : json();
  if (!j.is_object() || !j.value("ok", false))
    return fail("the follower did not list its pins: " + (reply ? *reply : reply.status().message()));
  for (const auto& p : j["pins"]) {
    if (as_json)
      std::printf("%s\n", p.dump().c_str());
    else
      std::printf("%s  %-10s %s\n", p.value("cid", "").c_str(), p.value("status", "").c_str(),
                  p.value("name", "").c_str());
  }
  if (!as_json) {
    std::string counts;
    for (const auto& [status, n] : j["counts"].items())
      counts += (counts.empty() ? "" : ", ") + status + " " + n.dump();
    std::fprintf(stderr, "%s pins%s: %s\n", j["total"].dump().c_str(),
                 j.value("truncated", false) ? " (the first 1000 listed)" : "", counts.c_str());
  }
  return kExitOk;
}

int cmd_info(const std::string& name, const std::string& dir) {
  auto cfg = DaemonConfig::load(config_path(dir));
  if (!cfg) return fail(cfg.status().message());
  std::printf("name:           %s\ncluster:        %s\nfolder:         %s\nconfig source:  %s\n"
              "peer ID:        %s\ntrusted peers:  %zu\n",
              name.c_str(), cfg->name.c_str(), dir.c_str(),
              text_or(read_file(source_path(dir), 4096), "?").c_str(), peer_id(dir).c_str(),
              cfg->trusted_peers.size());
  if (auto info = running_info(dir)) {
    json j = json::parse(*info, nullptr, false);
    std::printf("follower:       running, %zu peers connected, %s keys, %s blocks wanted\n",
                j["peers"].size(), j["keys"].dump().c_str(), j["wants"].dump().c_str());
  } else {
    std::printf("follower:       stopped (start it with: trellis-follow %s run)\n", name.c_str());
  }
  if (cfg->ipfs_api.empty()) {
    std::printf("IPFS:           none configured (the follower does not pin)\n");
  } else if (auto id = probe_ipfs(cfg->ipfs_api, std::chrono::seconds(2))) {
    std::printf("IPFS:           up at %s (%s)\n", cfg->ipfs_api.c_str(), id->id.c_str());
  } else {
    std::printf("IPFS:           down at %s (%s)\n", cfg->ipfs_api.c_str(), id.status().message().c_str());
  }
  return kExitOk;
}

int cmd_clusters(const std::string& base) {
  std::error_code ec;
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(base, ec)) {
    const std::string dir = e.path().string();
    auto cfg = DaemonConfig::load(config_path(dir));
    if (!cfg) continue;
    std::printf("%-16s %-16s %s  %-7s %s\n", e.path().filename().c_str(), cfg->name.c_str(),
                peer_id(dir).c_str(), running_info(dir) ? "running" : "stopped",
                text_or(read_file(source_path(dir), 4096), "?").c_str());
    ++n;
  }
  if (n == 0)
    std::fprintf(stderr, "no clusters followed in %s; start with: trellis-follow NAME init URL|FILE\n",
                 base.c_str());
  return kExitOk;
}

}  // namespace trellis::follow
