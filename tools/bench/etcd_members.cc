#include "tools/bench/etcd_members.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <thread>

#include "tools/bench/http_load.h"

namespace trellis::bench {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::string url(uint16_t port) {
  return fmt::format("http://127.0.0.1:{}", port);
}

// The gateway writes 64-bit numbers as JSON strings ("123").
std::string number_text(const nlohmann::json& j, const char* key) {
  if (!j.contains(key)) return "";
  const auto& v = j[key];
  return v.is_string() ? v.get<std::string>() : v.dump();
}

// One call answering 200 with a JSON body.
Result<nlohmann::json> call_json(uint16_t port, const std::string& method,
                                 const std::string& target, const std::string& body) {
  auto r = http_call(port, method, target, body);
  if (!r) return r.status();
  if (r->status != 200)
    return Status(Code::unavailable, fmt::format("{} {}: HTTP {}: {}", method, target, r->status,
                                                 r->body.substr(0, 300)));
  try {
    return nlohmann::json::parse(r->body);
  } catch (const std::exception& e) {
    return Status(Code::corrupt, target + ": " + e.what());
  }
}

}  // namespace

Result<std::string> find_etcd() {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  for (size_t start = 0; start <= dirs.size();) {
    size_t end = std::min(dirs.find(':', start), dirs.size());
    std::string candidate = dirs.substr(start, end - start) + "/etcd";
    if (end > start && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return Status(Code::unavailable,
                "etcd is not on PATH; the api-ingest baseline needs it: install the Debian "
                "package with `apt-get install -y etcd-server` (etcd 3.4)");
}

std::string base64(std::string_view data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<uint8_t>(data[k])); };
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  size_t left = data.size() - i;
  if (left > 0) {
    uint32_t v = byte(i) << 16 | (left == 2 ? byte(i + 1) << 8 : 0);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(left == 2 ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

EtcdMembers::~EtcdMembers() {
  stop();
}

Result<std::unique_ptr<EtcdMembers>> EtcdMembers::start(const std::string& binary,
                                                        const std::string& root, size_t n,
                                                        const std::string& token) {
  std::unique_ptr<EtcdMembers> e(new EtcdMembers());
  auto ports = free_ports(2 * n);
  if (!ports) return ports.status();
  std::string cluster;
  for (size_t i = 0; i < n; ++i) {
    Member m;
    m.dir = fmt::format("{}/m{}", root, i);
    m.client_port = (*ports)[2 * i];
    m.peer_port = (*ports)[2 * i + 1];
    cluster += fmt::format("{}m{}={}", i ? "," : "", i, url(m.peer_port));
    e->members_.push_back(std::move(m));
  }
  for (size_t i = 0; i < n; ++i) {
    Member& m = e->members_[i];
    std::vector<std::string> argv = {binary,
                                     "--name",
                                     fmt::format("m{}", i),
                                     "--data-dir",
                                     m.dir,
                                     "--listen-client-urls",
                                     url(m.client_port),
                                     "--advertise-client-urls",
                                     url(m.client_port),
                                     "--listen-peer-urls",
                                     url(m.peer_port),
                                     "--initial-advertise-peer-urls",
                                     url(m.peer_port),
                                     "--initial-cluster",
                                     cluster,
                                     "--initial-cluster-state",
                                     "new",
                                     "--initial-cluster-token",
                                     token};
    auto c = Child::start(argv, root + fmt::format("/m{}.log", i), false);
    if (!c) return c.status();
    m.proc = std::move(*c);
  }
  TRELLIS_TRY(e->wait_healthy(60s));
  return e;
}

Status EtcdMembers::wait_healthy(std::chrono::seconds limit) {
  auto deadline = Clock::now() + limit;
  std::string last = "no answer";
  while (Clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
    bool healthy = true;
    std::string leader;
    std::vector<std::string> ids;
    for (size_t i = 0; i < members_.size() && healthy; ++i) {
      auto h = http_call(members_[i].client_port, "GET", "/health");
      if (!h || h->body.find("\"true\"") == std::string::npos) {
        healthy = false;
        last = fmt::format("m{}: {}", i, h ? h->body : h.status().message());
        break;
      }
      auto st = call_json(members_[i].client_port, "POST", "/v3/maintenance/status", "{}");
      if (!st) {
        healthy = false;
        last = st.status().message();
        break;
      }
      ids.push_back(number_text((*st)["header"], "member_id"));
      std::string l = number_text(*st, "leader");
      if (l.empty() || l == "0" || (!leader.empty() && l != leader)) {
        healthy = false;
        last = "no agreed leader yet";
      }
      leader = l;
      version_ = st->value("version", "");
    }
    if (!healthy) continue;
    for (size_t i = 0; i < ids.size(); ++i)
      if (ids[i] == leader) {
        leader_ = i;
        return Status::ok();
      }
    last = "the leader " + leader + " is not one of the members";
  }
  return Status(Code::unavailable, "etcd did not become healthy in time (" + last + "); m0 log:" +
                                       log_tail(0));
}

Result<size_t> EtcdMembers::count(size_t i, const std::string& prefix) const {
  std::string end = prefix;
  end.back() = static_cast<char>(end.back() + 1);
  nlohmann::json q = {{"key", base64(prefix)},
                      {"range_end", base64(end)},
                      {"count_only", true},
                      {"serializable", true}};
  auto r = call_json(members_[i].client_port, "POST", "/v3/kv/range", q.dump());
  if (!r) return r.status();
  std::string n = number_text(*r, "count");  // absent when 0
  return n.empty() ? size_t{0} : static_cast<size_t>(std::stoull(n));
}

std::string EtcdMembers::log_tail(size_t i) const {
  return tail_of(members_[i].dir + ".log");
}

void EtcdMembers::stop() {
  for (const auto& m : members_) m.proc.terminate();
  for (auto& m : members_) m.proc.stop(std::chrono::milliseconds(5'000));
}

}  // namespace trellis::bench
