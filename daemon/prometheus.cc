#include "daemon/prometheus.h"

#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "daemon/global_status.h"
#include "daemon/service.h"
#include "pinning/status.h"

namespace trellis {

namespace {

constexpr auto kCountsMaxAge = std::chrono::seconds(30);

// Appends one metric family: HELP, TYPE and its samples.
class Writer {
 public:
  void family(const std::string& name, const char* type, const std::string& help) {
    out_ << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
  }
  void sample(const std::string& name, double value, const std::string& labels = "") {
    out_ << name;
    if (!labels.empty()) out_ << "{" << labels << "}";
    out_ << " " << value << "\n";
  }
  void one(const std::string& name, const char* type, const std::string& help, double value) {
    family(name, type, help);
    sample(name, value);
  }
  std::string str() const { return out_.str(); }

 private:
  std::ostringstream out_;
};

std::string label_value(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

// process_* from /proc/self (the names client libraries use).
void process_metrics(Writer& w) {
  std::ifstream stat("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  size_t paren = text.rfind(')');
  if (paren == std::string::npos) return;
  std::istringstream in(text.substr(paren + 2));
  std::vector<std::string> f;
  for (std::string s; in >> s;) f.push_back(s);
  if (f.size() < 22) return;
  // Fields after "(comm)", 0-based: 11 utime, 12 stime, 19 starttime, 20 vsize, 21 rss.
  double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  double boot = 0;
  std::ifstream pstat("/proc/stat");
  for (std::string line; std::getline(pstat, line);)
    if (line.rfind("btime ", 0) == 0) boot = std::stod(line.substr(6));
  size_t fds = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (readdir(d)) ++fds;
    closedir(d);
  }
  w.one("process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.",
        (std::stod(f[11]) + std::stod(f[12])) / tick);
  w.one("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
        std::stod(f[21]) * page);
  w.one("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", std::stod(f[20]));
  w.one("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.",
        boot + std::stod(f[19]) / tick);
  w.one("process_open_fds", "gauge", "Number of open file descriptors.",
        static_cast<double>(fds > 2 ? fds - 2 : 0));
}

}  // namespace

MetricsServer::MetricsServer(Service& service, std::string listen)
    : service_(service), listen_(std::move(listen)) {}

MetricsServer::~MetricsServer() = default;

Status MetricsServer::start() {
  auto ep = ipfs_endpoint(listen_);
  if (!ep) return invalid("metrics.listen: " + ep.status().message());
  http::ServerOptions o;
  o.host = ep->first;
  o.port = ep->second;
  o.max_connections = 16;
  o.name = "metrics";
  o.log = service_.logger().component("metrics");
  server_ = std::make_unique<http::Server>(
      service_.node().io(), std::move(o),
      [this](http::Request& req, http::Responder& r) { return handle(req, r); });
  return server_->start();
}

void MetricsServer::stop() {
  if (server_) server_->stop();
}

uint16_t MetricsServer::port() const { return server_ ? server_->port() : 0; }

net::awaitable<void> MetricsServer::handle(http::Request& req, http::Responder& r) {
  if (req.method != "GET" || req.path != "/metrics")
    co_return co_await r.error(404, "not found: the metrics are at GET /metrics");
  std::string text = co_await exposition();
  std::string type = "text/plain; version=0.0.4; charset=utf-8";
  co_await r.reply(200, std::move(text), std::move(type), http::Headers());
}

net::awaitable<std::string> MetricsServer::exposition() {
  Writer w;
  auto* tracker = service_.tracker();
  if (tracker && std::chrono::steady_clock::now() - counted_at_ > kCountsMaxAge) {
    std::map<std::string, uint64_t> counts;
    auto lists = co_await tracker->ipfs_lists(std::chrono::milliseconds(0));
    std::string after;
    for (;;) {
      auto page = next_page(*service_.pins(), after);
      if (!page || page->empty()) break;
      for (const auto& p : *page) ++counts[pinning::status_name(tracker->status_in(p, *lists).status)];
    }
    counts_ = std::move(counts);
    counted_at_ = std::chrono::steady_clock::now();
  }
  if (tracker) {
    w.family("trellis_pins", "gauge",
             "Pins in the shared state by their status on this peer (recounted at most every 30 s).");
    for (const auto& [status, n] : counts_)
      w.sample("trellis_pins", static_cast<double>(n), "status=\"" + status + "\"");
    const auto& c = tracker->counters();
    w.family("trellis_ipfs_operations_total", "counter",
             "Pin and unpin operations this peer finished on its IPFS daemon, by result.");
    w.sample("trellis_ipfs_operations_total", static_cast<double>(c.pins), "op=\"pin\",result=\"ok\"");
    w.sample("trellis_ipfs_operations_total", static_cast<double>(c.pin_errors), "op=\"pin\",result=\"error\"");
    w.sample("trellis_ipfs_operations_total", static_cast<double>(c.unpins), "op=\"unpin\",result=\"ok\"");
    w.sample("trellis_ipfs_operations_total", static_cast<double>(c.unpin_errors), "op=\"unpin\",result=\"error\"");
    w.one("trellis_pin_queue_operations", "gauge", "Pin and unpin operations queued, running or waiting to retry.",
          static_cast<double>(tracker->queue().size()));
    w.one("trellis_pin_queue_running", "gauge", "Pin and unpin operations running now.",
          static_cast<double>(tracker->queue().running()));
  }
  if (auto info = service_.replica().info()) {
    w.one("trellis_crdt_heads", "gauge", "Heads of the CRDT DAG.", static_cast<double>(info->heads.size()));
    w.one("trellis_dag_height", "gauge", "Height of the highest head of the CRDT DAG.",
          static_cast<double>(info->max_height));
    w.one("trellis_dag_blocks", "gauge", "Blocks stored in the CRDT DAG.", static_cast<double>(info->blocks));
    w.one("trellis_sync_pending_blocks", "gauge", "Fetched blocks waiting for their links before merging.",
          static_cast<double>(info->pending));
    w.one("trellis_sync_wanted_blocks", "gauge", "Blocks known to be missing and being fetched.",
          static_cast<double>(info->wants));
  }
  const auto& rc = service_.replicator().counters();
  w.one("trellis_blocks_fetched_total", "counter", "CRDT blocks received from peers.",
        static_cast<double>(rc.stream_blocks + rc.get_blocks));
  w.one("trellis_blocks_served_total", "counter", "CRDT blocks sent to peers.",
        static_cast<double>(rc.served_blocks));
  w.one("trellis_blocks_rejected_total", "counter", "Blocks from peers that failed verification.",
        static_cast<double>(rc.rejected_blocks));
  w.one("trellis_syncing", "gauge", "1 while this peer is fetching missing blocks.",
        service_.replicator().syncing() ? 1.0 : 0.0);
  w.one("trellis_peers_connected", "gauge", "Cluster peers with a live connection.",
        static_cast<double>(service_.node().connected().size()));
  w.family("trellis_http_requests_total", "counter", "HTTP API requests by API, route and status.");
  for (const HttpApi* api : service_.http_apis())
    for (const auto& [key, n] : api->requests())
      w.sample("trellis_http_requests_total", static_cast<double>(n),
               "api=\"" + api->name() + "\",route=\"" + label_value(key.first) + "\",code=\"" +
                   std::to_string(key.second) + "\"");
  process_metrics(w);
  co_return w.str();
}

}  // namespace trellis
