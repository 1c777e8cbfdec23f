#include "tools/bench/trellis_peers.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "daemon/control.h"

namespace trellis::bench {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// "key VALUE" line of `trellisd init`'s output.
std::string field_of(const std::string& out, const std::string& key) {
  size_t at = out.find(key + " ");
  if (at == std::string::npos) return "";
  size_t start = at + key.size() + 1;
  return out.substr(start, out.find('\n', start) - start);
}

Result<nlohmann::json> read_json(const std::string& path) {
  std::ifstream f(path);
  if (!f) return Status(Code::io_error, "cannot read " + path);
  try {
    return nlohmann::json::parse(f);
  } catch (const std::exception& e) {
    return Status(Code::corrupt, path + ": " + e.what());
  }
}

Status write_json(const std::string& path, const nlohmann::json& j) {
  std::ofstream f(path, std::ios::trunc);
  f << j.dump(2) << "\n";
  f.close();
  if (!f) return Status(Code::io_error, "cannot write " + path);
  return Status::ok();
}

}  // namespace

TrellisPeers::~TrellisPeers() {
  stop();
}

Status TrellisPeers::init_peer(const std::string& binary, const std::string& dir, uint16_t port,
                               uint16_t ipfs_port, std::string* secret) {
  std::vector<std::string> argv = {binary,
                                   "init",
                                   "--dir",
                                   dir,
                                   "--listen",
                                   fmt::format("/ip4/127.0.0.1/tcp/{}", port),
                                   "--ipfs-api",
                                   fmt::format("/ip4/127.0.0.1/tcp/{}", ipfs_port)};
  if (!peers_.empty()) argv.insert(argv.end(), {"--secret", *secret, "--bootstrap", peers_[0].addr});
  std::filesystem::create_directories(dir);
  auto out = run_command(argv, dir + "/init.log");
  if (!out) return out.status();
  std::string id = field_of(*out, "peer ID");
  if (id.empty()) return Status(Code::corrupt, "trellisd init printed no peer ID: " + *out);
  if (peers_.empty()) *secret = field_of(*out, "secret");

  std::string path = dir + "/config.json";
  auto cfg = read_json(path);
  if (!cfg) return cfg.status();
  bool first = peers_.empty();
  (*cfg)["restapi"]["listen"] = first ? fmt::format("/ip4/127.0.0.1/tcp/{}", rest_port_) : "";
  (*cfg)["pinsvcapi"]["listen"] = "";
  (*cfg)["metrics"]["listen"] = "";
  TRELLIS_TRY(write_json(path, *cfg));
  peers_.push_back(Peer{dir, fmt::format("/ip4/127.0.0.1/tcp/{}/p2p/{}", port, id), Child()});
  return Status::ok();
}

Result<std::unique_ptr<TrellisPeers>> TrellisPeers::start(const std::string& binary,
                                                          const std::string& root, size_t n) {
  std::unique_ptr<TrellisPeers> t(new TrellisPeers());
  // n cluster ports, the REST port, and one port nobody listens on: IPFS.
  auto ports = free_ports(n + 2);
  if (!ports) return ports.status();
  t->rest_port_ = (*ports)[n];
  uint16_t ipfs_port = (*ports)[n + 1];
  std::string secret;
  for (size_t i = 0; i < n; ++i)
    TRELLIS_TRY(t->init_peer(binary, fmt::format("{}/peer{}", root, i), (*ports)[i], ipfs_port,
                             &secret));
  for (size_t i = 0; i < n; ++i) {
    Peer& p = t->peers_[i];
    std::vector<std::string> argv = {binary, "daemon", "--dir", p.dir};
    auto c = Child::start(argv, p.dir + "/trellisd.log", true);
    if (!c) return c.status();
    p.proc = std::move(*c);
    auto ready = p.proc.read_line("ready ", 30s);
    if (!ready)
      return Status(Code::unavailable, fmt::format("trellisd peer {} did not start ({}); log:{}", i,
                                                   ready.status().message(), t->log_tail(i)));
  }
  TRELLIS_TRY(t->wait_mesh(60s));
  return t;
}

Result<nlohmann::json> TrellisPeers::info(size_t i) const {
  auto line = control_request(peers_[i].dir + "/control.sock", "info");
  if (!line) return line.status();
  try {
    auto j = nlohmann::json::parse(*line);
    if (!j.value("ok", false)) return Status(Code::unavailable, "info: " + *line);
    return j;
  } catch (const std::exception& e) {
    return Status(Code::corrupt, std::string("info: ") + e.what());
  }
}

Status TrellisPeers::wait_mesh(std::chrono::seconds limit) const {
  auto deadline = Clock::now() + limit;
  std::string last;
  while (Clock::now() < deadline) {
    bool all = true;
    last.clear();
    for (size_t i = 0; i < peers_.size(); ++i) {
      auto j = info(i);
      size_t connected = j ? (*j)["peers"].size() : 0;
      last += fmt::format("{}{}", last.empty() ? "" : ", ", connected);
      all = all && connected + 1 == peers_.size();
    }
    if (all) return Status::ok();
    std::this_thread::sleep_for(50ms);
  }
  return Status(Code::unavailable, "the trellisd peers did not connect to each other in time "
                                   "(connected peers: " + last + ")");
}

std::string TrellisPeers::log_tail(size_t i) const {
  return tail_of(peers_[i].dir + "/trellisd.log");
}

void TrellisPeers::stop() {
  for (const auto& p : peers_) p.proc.terminate();
  for (auto& p : peers_) p.proc.stop();
}

}  // namespace trellis::bench
