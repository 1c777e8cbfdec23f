#include "daemon/state_commands.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>

#include "crdt/replica.h"
#include "daemon/config.h"
#include "daemon/data_lock.h"
#include "pinning/pin_json.h"

namespace trellis {

namespace {

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
  while ((c = getc_unlocked(in)) != EOF && c != '\n') {
    if (line.size() == pinning::kMaxPinJsonBytes)
      return too_large("is longer than " + std::to_string(pinning::kMaxPinJsonBytes) + " bytes");
    line.push_back(static_cast<char>(c));
  }
  if (std::ferror(in)) return Status(Code::io_error, "read failed");
  return c != EOF || !line.empty();
}

// The spool between import's two passes: each pin as its key and encoded
// value, length-prefixed, in an anonymous temporary file, so that neither
// pass holds more than one chunk of pins in memory.
Status spool_write(std::FILE* f, std::string_view key, ByteView value) {
  const uint32_t sizes[2] = {static_cast<uint32_t>(key.size()), static_cast<uint32_t>(value.size())};
  if (std::fwrite(sizes, sizeof sizes, 1, f) != 1 || std::fwrite(key.data(), 1, key.size(), f) != key.size() ||
      std::fwrite(value.data(), 1, value.size(), f) != value.size())
    return Status(Code::io_error, "writing the import's temporary file failed");
  return Status::ok();
}

// Reads the next spooled pin; false at the end.
Result<bool> spool_read(std::FILE* f, std::string& key, Bytes& value) {
  uint32_t sizes[2];
  if (std::fread(sizes, sizeof sizes, 1, f) != 1) {
    if (std::ferror(f)) return Status(Code::io_error, "reading the import's temporary file failed");
    return false;
  }
  key.resize(sizes[0]);
  value.resize(sizes[1]);
  if (std::fread(key.data(), 1, key.size(), f) != key.size() ||
      std::fread(value.data(), 1, value.size(), f) != value.size())
    return Status(Code::io_error, "reading the import's temporary file failed");
  return true;
}

// First pass: parses and checks every line, spooling the pins; the number
// of pins, or the first bad line's error.
Result<size_t> spool_pins(std::FILE* in, std::FILE* spool) {
  size_t pins = 0;
  std::string line;
  for (size_t number = 1;; ++number) {
    auto more = read_line(in, line);
    auto at = [&](const std::string& why) {
      return Status(Code::invalid_argument, "line " + std::to_string(number) + ": " + why);
    };
    if (!more) return at(more.status().message());
    if (!*more) break;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) return at("not valid JSON");
    auto pin = pinning::pin_from_json(j);
    if (!pin) return at(pin.status().message());
    TRELLIS_TRY(spool_write(spool, pinning::pin_key(pin->cid), pinning::encode_pin(*pin)));
    ++pins;
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
  // In the data folder, not /tmp (often a tmpfs, that is memory); unnamed,
  // so nothing is left behind whatever happens.
  const int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR, 0600);
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> spool(fd < 0 ? nullptr : ::fdopen(fd, "w+b"), std::fclose);
  if (!spool) {
    const std::string why = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return Status(Code::io_error, "cannot create a temporary file in " + dir + ": " + why);
  }
  auto pins = spool_pins(in, spool.get());
  if (!pins) return pins.status();
  if (std::fflush(spool.get()) != 0 || std::fseek(spool.get(), 0, SEEK_SET) != 0)
    return Status(Code::io_error, "rewinding the import's temporary file failed");
  // One fsync at the end instead of one per chunk: an import that fails
  // half-way leaves whole chunks either way (each commit stays atomic).
  ReplicaOptions ro;
  ro.sync = false;
  auto replica = Replica::open(state_path(dir), ro);
  if (!replica) return replica.status();
  std::string key;
  Bytes value;
  Batch batch;
  for (size_t done = 0; done < *pins;) {
    auto more = spool_read(spool.get(), key, value);
    if (!more) return more.status();
    if (!*more) return Status(Code::io_error, "the import's temporary file ended early");
    TRELLIS_TRY(batch.put(key, value));
    if (++done % kImportChunk == 0 || done == *pins) {
      auto cid = (*replica)->commit(batch);
      if (!cid) return cid.status();
      batch = Batch();
    }
  }
  TRELLIS_TRY((*replica)->store().sync());
  return *pins;
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
