#include "tools/bench/common.h"

#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <system_error>

namespace trellis::bench {

namespace fs = std::filesystem;

// ---- result ----

nlohmann::ordered_json BenchResult::to_json() const {
  nlohmann::ordered_json j;
  j["name"] = name;
  j["value"] = value;
  j["unit"] = unit;
  j["baseline"] = baseline;
  j["baseline_name"] = baseline_name;
  if (lower_is_better) j["lower_is_better"] = true;
  j["ratio"] = ratio();
  j["peak_rss_mb"] = peak_rss_mb;
  if (target_value) j["target_value"] = *target_value;
  if (target_ratio) j["target_ratio"] = *target_ratio;
  if (!other_target.empty()) j["other_target"] = other_target;
  if (target_value || target_ratio || !other_target.empty()) j["target_met"] = target_met();
  j["runs"] = run_values.size();
  j["run_values"] = run_values;
  j["run_baselines"] = run_baselines;
  for (const auto& [k, v] : detail.items()) j[k] = v;
  return j;
}

std::string BenchResult::to_human() const {
  std::string line = fmt::format(
      "{:<13} {:>11} {:<9} baseline {} {:>11} {:<9} ratio {:.2f}   "
      "peak RSS {:.0f} MB",
      name, shown(value), unit, baseline_name, shown(baseline), unit, ratio(), peak_rss_mb);
  if (target_value || target_ratio || !other_target.empty()) {
    std::string t;
    if (target_value)
      t += fmt::format("{}{} {}", lower_is_better ? "≤" : "≥", shown(*target_value), unit);
    if (target_ratio) t += fmt::format("{}ratio ≥{:.2f}", t.empty() ? "" : ", ", *target_ratio);
    if (!other_target.empty()) t += (t.empty() ? "" : ", ") + other_target;
    line += fmt::format("   target {}: {}", t, target_met() ? "met" : "MISSED");
  }
  return line;
}

std::string BenchResult::shown(double v) const {
  return decimals > 0 ? fmt::format("{:.{}f}", v, decimals) : grouped(v);
}

std::string BenchResult::note() const {
  auto list = [this](const std::vector<double>& v) {
    std::string s;
    for (double x : v) s += (s.empty() ? "" : " ") + shown(x);
    return s;
  };
  std::string out =
      fmt::format("  median of {} run{}: {} [{}], baseline [{}]", run_values.size(),
                  run_values.size() == 1 ? "" : "s", unit, list(run_values), list(run_baselines));
  if (!extra.empty()) out += "\n  " + extra;
  return out;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// ---- memory ----

namespace {

// A "VmXXX:   1234 kB" line of /proc/self/status, in MB; -1 if absent.
double proc_status_mb(const char* field) {
  std::ifstream f("/proc/self/status");
  std::string line;
  std::string want = std::string(field) + ":";
  while (std::getline(f, line)) {
    if (line.rfind(want, 0) != 0) continue;
    return std::strtod(line.c_str() + want.size(), nullptr) / 1024.0;
  }
  return -1;
}

double g_peak_before_reset = 0;  // the highest VmHWM seen before a reset

double rusage_peak_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // Linux: kilobytes
}

}  // namespace

bool reset_peak_rss() {
  g_peak_before_reset = std::max(g_peak_before_reset, peak_rss_mb());
  FILE* f = std::fopen("/proc/self/clear_refs", "w");
  if (!f) return false;
  bool ok = std::fputs("5", f) >= 0;
  ok = std::fclose(f) == 0 && ok;
  return ok;
}

double peak_rss_mb() {
  double hwm = proc_status_mb("VmHWM");
  return hwm >= 0 ? hwm : rusage_peak_mb();
}

double process_peak_rss_mb() {
  return std::max({g_peak_before_reset, peak_rss_mb(), rusage_peak_mb()});
}

uint64_t bytes_written() {
  std::ifstream f("/proc/self/io");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("wchar:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

double current_rss_mb() {
  return proc_status_mb("VmRSS");
}

// ---- data ----

namespace {

uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ULL;

// The j-th 64-bit word of item i in a stream.
uint64_t word(uint64_t seed, uint64_t stream, uint64_t i, uint64_t j) {
  return mix64(mix64(seed ^ (stream * kGolden)) + i * 0xd1342543de82ef95ULL + (j + 1) * kGolden);
}

constexpr char kBase32[] = "abcdefghijklmnopqrstuvwxyz234567";
constexpr std::string_view kKeyPrefix = "/pins/";

}  // namespace

std::string DataGen::key(uint64_t i) const {
  uint8_t raw[32];
  for (uint64_t j = 0; j < 4; ++j) {
    uint64_t w = word(seed_, 0x6b657973, i, j);
    for (int b = 0; b < 8; ++b) raw[j * 8 + b] = static_cast<uint8_t>(w >> (8 * b));
  }
  std::string out(kKeyPrefix);
  out.reserve(kKeyPrefix.size() + 52);
  uint32_t acc = 0;
  int bits = 0;
  for (uint8_t byte : raw) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push_back(kBase32[(acc >> bits) & 31]);
    }
    acc &= (1u << bits) - 1;
  }
  if (bits > 0) out.push_back(kBase32[(acc << (5 - bits)) & 31]);
  return out;
}

void DataGen::value(uint64_t i, uint8_t* out, uint64_t stream) const {
  for (uint64_t j = 0; j * 8 < kValueBytes; ++j) {
    uint64_t w = word(seed_, 0x76616c7565 + stream, i, j);
    for (uint64_t b = 0; b < 8 && j * 8 + b < kValueBytes; ++b)
      out[j * 8 + b] = static_cast<uint8_t>(w >> (8 * b));
  }
}

Bytes DataGen::value(uint64_t i, uint64_t stream) const {
  Bytes v(kValueBytes);
  value(i, v.data(), stream);
  return v;
}

uint64_t Rng::next() {
  return mix64(s_ += kGolden);
}

// ---- files ----

Result<WorkDir> WorkDir::create(const std::string& dir, bool keep) {
  WorkDir w;
  w.keep_ = keep;
  std::error_code ec;
  if (dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/trellis-bench-XXXXXX";
    if (!mkdtemp(tmpl.data()))
      return Status(Code::io_error, "cannot create a temporary directory from " + tmpl);
    w.root_ = tmpl;
    w.owned_ = true;
  } else {
    w.root_ = dir;
    fs::create_directories(w.root_, ec);
    if (ec) return Status(Code::io_error, "cannot create " + dir + ": " + ec.message());
  }
  return w;
}

WorkDir::WorkDir(WorkDir&& o) noexcept
    : root_(std::move(o.root_)), keep_(o.keep_), owned_(o.owned_) {
  o.moved_ = true;
}

WorkDir::~WorkDir() {
  if (moved_ || keep_ || !owned_) return;
  std::error_code ec;
  fs::remove_all(root_, ec);
}

std::string WorkDir::fresh(const std::string& name) const {
  fs::path p = root_ / name;
  std::error_code ec;
  fs::remove_all(p, ec);
  return p.string();
}

void WorkDir::drop(const std::string& sub) const {
  if (keep_) return;
  std::error_code ec;
  fs::remove_all(fs::path(sub), ec);
}

double store_mb(const std::string& dir) {
  std::error_code ec;
  auto n = fs::file_size(fs::path(dir) / "data.mdb", ec);
  return ec ? 0 : static_cast<double>(n) / (1024.0 * 1024.0);
}

// ---- output ----

std::string grouped(double v) {
  if (!std::isfinite(v)) return "-";
  auto n = static_cast<long long>(std::llround(v));
  bool neg = n < 0;
  std::string digits = std::to_string(neg ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return neg ? "-" + out : out;
}

double process_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto tv = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

}  // namespace trellis::bench
