#include "tools/bench/trellis_peers.h"

#include <fmt/format.h>
#include <unistd.h>

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

Result<std::string> find_trellisd(const std::string& given) {
  namespace fs = std::filesystem;
  if (!given.empty()) {
    if (::access(given.c_str(), X_OK) == 0) return given;
    return Status(Code::not_found, "--trellisd " + given + " is not an executable");
  }
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    // build/tools/bench/trellis-bench → build/daemon/trellisd; installed: side by side.
    for (const fs::path& p : {self.parent_path() / "../../daemon/trellisd",
                              self.parent_path() / "trellisd"})
      if (::access(p.c_str(), X_OK) == 0) return fs::weakly_canonical(p, ec).string();
  }
  return Status(Code::not_found,
                "trellisd not found next to trellis-bench: build it (meson compile -C build "
                "trellisd) or pass --trellisd PATH");
}

TrellisPeers::~TrellisPeers() {
  stop();
}

std::unique_ptr<TrellisPeers> TrellisPeers::empty(const std::string& binary, const std::string& root) {
  std::unique_ptr<TrellisPeers> t(new TrellisPeers());
  t->binary_ = binary;
  t->root_ = root;
  return t;
}

Status TrellisPeers::init_peer(const std::string& dir, uint16_t port, const PeerSetup& setup) {
  std::vector<std::string> argv = {binary_,  "init", "--dir", dir, "--listen",
                                   fmt::format("/ip4/127.0.0.1/tcp/{}", port),
                                   "--ipfs-api", *setup.ipfs_api};
  if (!peers_.empty()) argv.insert(argv.end(), {"--secret", secret_, "--bootstrap", peers_[0].addr});
  argv.insert(argv.end(), setup.init_args.begin(), setup.init_args.end());
  std::filesystem::create_directories(dir);
  auto out = run_command(argv, dir + "/init.log");
  if (!out) return out.status();
  std::string id = field_of(*out, "peer ID");
  if (id.empty()) return Status(Code::corrupt, "trellisd init printed no peer ID: " + *out);
  if (peers_.empty()) secret_ = field_of(*out, "secret");

  std::string path = dir + "/config.json";
  auto cfg = read_json(path);
  if (!cfg) return cfg.status();
  (*cfg)["restapi"]["listen"] = setup.rest ? fmt::format("/ip4/127.0.0.1/tcp/{}", rest_port_) : "";
  (*cfg)["pinsvcapi"]["listen"] = "";
  (*cfg)["metrics"]["listen"] = "";
  if (setup.trust_only_self) (*cfg)["cluster"]["trusted_peers"] = nlohmann::json::array({id});
  cfg->merge_patch(setup.config);
  TRELLIS_TRY(write_json(path, *cfg));
  peers_.push_back(Peer{dir, id, fmt::format("/ip4/127.0.0.1/tcp/{}/p2p/{}", port, id), Child()});
  return Status::ok();
}

Result<size_t> TrellisPeers::add(size_t count, const PeerSetup& setup) {
  // count cluster ports, the REST port and a port nobody listens on (IPFS).
  // Ports handed out before are skipped: they may not be bound yet.
  auto free = free_ports(count + 2 + given_ports_.size());
  if (!free) return free.status();
  std::vector<uint16_t> ports;
  for (uint16_t p : *free)
    if (ports.size() < count + 2 && given_ports_.insert(p).second) ports.push_back(p);
  if (ports.size() < count + 2) return Status(Code::unavailable, "not enough free loopback ports");
  if (setup.rest) rest_port_ = ports[count];
  PeerSetup s = setup;
  if (!s.ipfs_api) s.ipfs_api = fmt::format("/ip4/127.0.0.1/tcp/{}", ports[count + 1]);
  const size_t first = peers_.size();
  for (size_t i = 0; i < count; ++i)
    TRELLIS_TRY(init_peer(fmt::format("{}/peer{}", root_, first + i), ports[i], s));
  return first;
}

Status TrellisPeers::launch(size_t first, size_t count) {
  for (size_t i = first; i < first + count; ++i) {
    Peer& p = peers_[i];
    std::vector<std::string> argv = {binary_, "daemon", "--dir", p.dir};
    auto c = Child::start(argv, p.dir + "/trellisd.log", true);
    if (!c) return c.status();
    p.proc = std::move(*c);
  }
  for (size_t i = first; i < first + count; ++i) {
    auto ready = peers_[i].proc.read_line("ready ", 30s);
    if (!ready)
      return Status(Code::unavailable, fmt::format("trellisd peer {} did not start ({}); log:{}", i,
                                                   ready.status().message(), log_tail(i)));
  }
  return Status::ok();
}

Result<std::unique_ptr<TrellisPeers>> TrellisPeers::start(const std::string& binary,
                                                          const std::string& root, size_t n) {
  auto t = empty(binary, root);
  PeerSetup first;
  first.rest = true;
  if (auto r = t->add(1, first); !r) return r.status();
  if (auto r = t->add(n - 1, PeerSetup{}); !r) return r.status();
  TRELLIS_TRY(t->launch(0, n));
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

void TrellisPeers::stop_peers(size_t first, size_t count) {
  for (size_t i = first; i < first + count; ++i) peers_[i].proc.terminate();
  for (size_t i = first; i < first + count; ++i) peers_[i].proc.stop();
}

void TrellisPeers::stop() {
  stop_peers(0, peers_.size());
}

}  // namespace trellis::bench
