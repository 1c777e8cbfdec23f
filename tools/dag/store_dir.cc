#include "tools/dag/store_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

namespace trellis::dag {

namespace {

bool exists(const std::string& path) {
  struct stat sb {};
  return stat(path.c_str(), &sb) == 0;
}

// The PID written at the start of a lock file, if any.
std::optional<long> read_pid(int fd) {
  char buf[32] = {};
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return std::nullopt;
  long pid = 0;
  auto [end, ec] = std::from_chars(buf, buf + n, pid);
  if (ec != std::errc() || end == buf || pid <= 0) return std::nullopt;
  return pid;
}

}  // namespace

StoreLocation locate_store(const std::string& dir) {
  if (exists(dir + "/state/data.mdb")) return {dir + "/state", dir + "/lock"};
  return {dir, dir + "/writer.lock"};
}

uint64_t store_file_size(const std::string& store) {
  struct stat sb {};
  if (stat((store + "/data.mdb").c_str(), &sb) != 0) return 0;
  return static_cast<uint64_t>(sb.st_size);
}

LockHolder lock_holder(const std::string& lock_file) {
  LockHolder out;
  int fd = ::open(lock_file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  out.pid = read_pid(fd);
  const bool named_dead = out.pid && !exists("/proc/" + std::to_string(*out.pid));
  if (!named_dead) {
    if (::flock(fd, LOCK_SH | LOCK_NB) == 0)
      ::flock(fd, LOCK_UN);
    else
      out.held = errno == EWOULDBLOCK;
  }
  if (!out.held) out.pid.reset();
  ::close(fd);
  return out;
}

}  // namespace trellis::dag
