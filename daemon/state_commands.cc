#include "daemon/state_commands.h"

#include <filesystem>
#include <vector>

#include "crdt/replica.h"
#include "daemon/config.h"
#include "daemon/data_lock.h"
#include "pinning/pin_json.h"

namespace trellis {

namespace {

using pinning::Pin;

Result<DataLock> lock_stopped(const std::string& dir) {
  auto lock = DataLock::acquire(dir);
  if (!lock && lock.status().code() == Code::busy)
    return Status(Code::busy, lock.status().message() + "; stop the daemon first");
  return lock;
}

// Reads one line of at most kMaxPinJsonBytes into `line`; false at the end.
Result<bool> read_line(std::FILE* in, std::string& line) {
  line.clear();
  int c = 0;
  while ((c = std::fgetc(in)) != EOF && c != '\n') {
    if (line.size() == pinning::kMaxPinJsonBytes)
      return too_large("is longer than " + std::to_string(pinning::kMaxPinJsonBytes) + " bytes");
    line.push_back(static_cast<char>(c));
  }
  if (std::ferror(in)) return Status(Code::io_error, "read failed");
  return c != EOF || !line.empty();
}

Result<std::vector<Pin>> read_pins(std::FILE* in) {
  std::vector<Pin> pins;
  std::string line;
  for (size_t number = 1;; ++number) {
    auto more = read_line(in, line);
    auto at = [&](const std::string& why) {
      return Status(Code::invalid_argument, "line " + std::to_string(number) + ": " + why);
    };
    if (!more) return at(more.status().message());
    if (!*more) break;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (pins.size() == kMaxImportPins)
      return at("more than " + std::to_string(kMaxImportPins) + " pins in one import");
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) return at("not valid JSON");
    auto pin = pinning::pin_from_json(j);
    if (!pin) return at(pin.status().message());
    pins.push_back(std::move(*pin));
  }
  return pins;
}

}  // namespace

Result<size_t> export_state(const std::string& dir, std::FILE* out) {
  if (!std::filesystem::exists(state_path(dir))) return size_t{0};
  ReplicaOptions ro;
  ro.read_only = true;
  auto replica = Replica::open(state_path(dir), ro);
  if (!replica) return replica.status();
  size_t count = 0;
  Status bad;
  TRELLIS_TRY((*replica)->scan(pinning::kPinPrefix, [&](std::string_view key, ByteView value) {
    auto pin = pinning::decode_pin(value);
    if (!pin) {
      bad = Status(pin.status().code(), std::string(key) + ": " + pin.status().message());
      return false;
    }
    const std::string line = pinning::pin_to_json(*pin).dump() + "\n";
    if (std::fwrite(line.data(), 1, line.size(), out) != line.size()) {
      bad = Status(Code::io_error, "write failed");
      return false;
    }
    ++count;
    return true;
  }));
  TRELLIS_TRY(bad);
  if (std::fflush(out) != 0) return Status(Code::io_error, "write failed");
  return count;
}

Result<size_t> import_state(const std::string& dir, std::FILE* in) {
  auto lock = lock_stopped(dir);
  if (!lock) return lock.status();
  if (auto cfg = DaemonConfig::load(config_path(dir)); cfg && cfg->follower_mode)
    return Status(Code::denied, "follower mode: " + dir + " follows the cluster \"" + cfg->name +
                                    "\" read-only; import on one of its trusted peers");
  auto pins = read_pins(in);
  if (!pins) return pins.status();
  auto replica = Replica::open(state_path(dir), ReplicaOptions{});
  if (!replica) return replica.status();
  for (size_t start = 0; start < pins->size(); start += kImportChunk) {
    Batch batch;
    const size_t end = std::min(pins->size(), start + kImportChunk);
    for (size_t i = start; i < end; ++i) {
      const Pin& p = (*pins)[i];
      TRELLIS_TRY(batch.put(pinning::pin_key(p.cid), pinning::encode_pin(p)));
    }
    auto cid = (*replica)->commit(batch);
    if (!cid) return cid.status();
  }
  return pins->size();
}

Status cleanup_state(const std::string& dir) {
  auto lock = lock_stopped(dir);
  if (!lock) return lock.status();
  std::error_code ec;
  std::filesystem::remove_all(state_path(dir), ec);
  if (ec) return Status(Code::io_error, "cannot remove " + state_path(dir) + ": " + ec.message());
  return Status::ok();
}

}  // namespace trellis
