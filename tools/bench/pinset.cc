#include "tools/bench/pinset.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>

#include "crdt/replica.h"
#include "net/identity.h"
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
                    const std::string& label, size_t per_commit) {
  ReplicaOptions ro;
  ro.sync = false;  // setup, not timed; the page cache holds it for the daemon
  ro.initial_map_size = size_t{1} << 30;
  auto replica = Replica::open(state_dir, ro);
  if (!replica) return replica.status();
  const std::string holder = absent_peer_id();
  auto t0 = std::chrono::steady_clock::now();
  uint64_t shown = 0;
  for (uint64_t start = 0; start < n; start += per_commit) {
    Batch batch;
    const uint64_t end = std::min<uint64_t>(n, start + per_commit);
    for (uint64_t i = start; i < end; ++i) {
      pinning::Pin p = bench_pin(seed, i, holder);
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
  return Status::ok();
}

PeerSetup holding_setup(bool rest) {
  PeerSetup s;
  s.rest = rest;
  s.config = {{"pinning", {{"repin", false}}}};
  return s;
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
