#include "daemon/state_commands.h"

#include <sys/stat.h>

#include <filesystem>
#include <functional>
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

// Parses every non-blank line of `in` into a pin and hands it to fn; fails
// on the first bad line (with its number) or the first error of fn.
Status for_each_pin(std::FILE* in, const std::function<Status(Pin&&)>& fn) {
  std::string line;
  size_t pins = 0;
  for (size_t number = 1;; ++number) {
    auto more = read_line(in, line);
    auto at = [&](const std::string& why) {
      return Status(Code::invalid_argument, "line " + std::to_string(number) + ": " + why);
    };
    if (!more) return at(more.status().message());
    if (!*more) break;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (pins++ == kMaxImportPins)
      return at("more than " + std::to_string(kMaxImportPins) + " pins in one import");
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) return at("not valid JSON");
    auto pin = pinning::pin_from_json(j);
    if (!pin) return at(pin.status().message());
    TRELLIS_TRY(fn(std::move(*pin)));
  }
  return Status::ok();
}

// A regular file can be read twice: checked first, then committed as it
// is read again, so memory stays flat however many pins it holds.
bool rereadable(std::FILE* in) {
  struct stat st {};
  return ::fstat(::fileno(in), &st) == 0 && S_ISREG(st.st_mode) && std::ftell(in) >= 0;
}

// Commits pins kImportChunk per block.
class ChunkedImport {
 public:
  explicit ChunkedImport(Replica& replica) : replica_(replica) {}
  Status add(const Pin& p) {
    TRELLIS_TRY(batch_.put(pinning::pin_key(p.cid), pinning::encode_pin(p)));
    ++count_;
    return batch_.size() == kImportChunk ? flush() : Status::ok();
  }
  Status flush() {
    if (batch_.empty()) return Status::ok();
    auto cid = replica_.commit(batch_);
    batch_ = Batch();
    return cid.status();
  }
  size_t count() const { return count_; }

 private:
  Replica& replica_;
  Batch batch_;
  size_t count_ = 0;
};

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
    std::string line;
    pinning::append_pin_json(*pin, line);
    line += '\n';
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
  const bool twice = rereadable(in);
  const long start = twice ? std::ftell(in) : 0;
  std::vector<Pin> held;  // a pipe is read once: held in memory until checked
  TRELLIS_TRY(for_each_pin(in, [&](Pin&& p) {
    if (!twice) held.push_back(std::move(p));
    return Status::ok();
  }));
  auto replica = Replica::open(state_path(dir), ReplicaOptions{});
  if (!replica) return replica.status();
  ChunkedImport out(**replica);
  if (twice) {
    if (std::fseek(in, start, SEEK_SET) != 0) return Status(Code::io_error, "cannot re-read the input");
    TRELLIS_TRY(for_each_pin(in, [&](Pin&& p) { return out.add(p); }));
  } else {
    for (const Pin& p : held) TRELLIS_TRY(out.add(p));
  }
  TRELLIS_TRY(out.flush());
  return out.count();
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
