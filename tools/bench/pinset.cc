#include "tools/bench/pinset.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <utility>
#include <vector>

#include "crdt/replica.h"
#include "daemon/config.h"
#include "net/identity.h"
#include "tools/bench/raw_copy.h"
#include "tools/bench/common.h"

namespace trellis::bench {

namespace fs = std::filesystem;

pinning::Pin bench_pin(uint64_t seed, uint64_t i, const std::string& holder) {
  DataGen gen(seed);
  pinning::Pin p;
  p.cid = Cid::sha256(kCodecRaw, gen.value(i, 0x6a6f696e));
  p.replication_factor_min = p.replication_factor_max = 1;
  p.allocations = {holder};
  p.timestamp = 1'790'000'000'000'000'000 + static_cast<int64_t>(i);
  return p;
}

std::string absent_peer_id() {
  return net::Identity::generate().id().to_string();
}

Status write_pinset(const std::string& state_dir, uint64_t n, uint64_t seed,
                    const std::string& label, size_t per_commit, bool key_order) {
  ReplicaOptions ro;
  ro.sync = false;  // setup, not timed; the page cache holds it for the daemon
  ro.initial_map_size = size_t{1} << 30;
  auto replica = Replica::open(state_dir, ro);
  if (!replica) return replica.status();
  const std::string holder = absent_peer_id();
  std::vector<uint64_t> order(n);
  for (uint64_t i = 0; i < n; ++i) order[i] = i;
  if (key_order) {
    std::vector<std::pair<std::string, uint64_t>> keyed;
    keyed.reserve(n);
    for (uint64_t i = 0; i < n; ++i) keyed.emplace_back(pinning::pin_key(bench_pin(seed, i, holder).cid), i);
    std::sort(keyed.begin(), keyed.end());
    for (uint64_t i = 0; i < n; ++i) order[i] = keyed[i].second;
  }
  auto t0 = std::chrono::steady_clock::now();
  uint64_t shown = 0;
  for (uint64_t start = 0; start < n; start += per_commit) {
    Batch batch;
    const uint64_t end = std::min<uint64_t>(n, start + per_commit);
    for (uint64_t k = start; k < end; ++k) {
      pinning::Pin p = bench_pin(seed, order[k], holder);
      TRELLIS_TRY(batch.put(pinning::pin_key(p.cid), pinning::encode_pin(p)));
    }
    auto cid = (*replica)->commit(batch);
    if (!cid) return cid.status();
    if (end * 10 / n > shown || end == n) {
      shown = end * 10 / n;
      std::fprintf(stderr, "  %s: %s of %s pins written (%.0f s)\n", label.c_str(),
                   grouped(static_cast<double>(end)).c_str(), grouped(static_cast<double>(n)).c_str(),
                   seconds_since(t0));
    }
  }
  // Written without fsync: flush it (and whatever else is dirty) now, or the
  // first fsync of a timed phase waits for the writeback of all of it (ext4
  // commits the journal with every dirty ordered block). Untimed setup.
  ::sync();
  return Status::ok();
}

PeerSetup holding_setup(bool rest) {
  PeerSetup s;
  s.rest = rest;
  s.config = {{"pinning", {{"repin", false}}}};
  return s;
}

Result<std::unique_ptr<TrellisPeers>> holding_peer(const std::string& binary, const std::string& root,
                                                   size_t n, uint64_t seed, const std::string& label) {
  auto peers = TrellisPeers::empty(binary, root);
  if (auto r = peers->add(1, holding_setup(true)); !r) return r.status();
  const std::string state = state_path(peers->dir(0));
  TRELLIS_TRY(write_pinset(state, n, seed, label, kBulkCommit, true));
  fs::create_directories(root + "/raw");
  auto mirrored = raw_mirror(state, root + "/raw");
  if (!mirrored) return mirrored.status();
  return peers;
}

Result<std::vector<BenchResult>> for_each_size(const std::vector<size_t>& sizes,
                                               const std::vector<size_t>& fallback,
                                               const SizeRun& one) {
  std::vector<BenchResult> out;
  for (size_t n : sizes.empty() ? fallback : sizes) {
    auto r = one(n);
    if (!r) return r.status();
    out.insert(out.end(), r->begin(), r->end());
  }
  return out;
}

Status scan_pins(const std::string& state_dir,
                 const std::function<bool(std::string_view key, ByteView value)>& fn) {
  ReplicaOptions ro;
  ro.read_only = true;
  auto replica = Replica::open(state_dir, ro);
  if (!replica) return replica.status();
  return (*replica)->scan(pinning::kPinPrefix, fn);
}

uint64_t disk_bytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec)) {
    struct stat st {};
    if (e.is_regular_file(ec) && ::stat(e.path().c_str(), &st) == 0)
      total += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return total;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace trellis::bench
