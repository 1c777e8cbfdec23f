// The data folder's lock: one process at a time may write DIR. `trellisd
// run` holds it for its whole life; `state import` and `state cleanup` hold
// it while they write. It is an flock(2) on DIR/lock, so it goes away with
// the process however that ends; the file keeps the holder's PID for the
// message the next comer prints.
#pragma once

#include <string>

#include "crdt/status.h"

namespace trellis {

std::string lock_path(const std::string& dir);

class DataLock {
 public:
  // Takes the lock without waiting. Fails with `busy` naming the folder and
  // the holder's PID when another process has it.
  static Result<DataLock> acquire(const std::string& dir);

  DataLock(DataLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  DataLock& operator=(DataLock&&) = delete;
  DataLock(const DataLock&) = delete;
  ~DataLock();

 private:
  explicit DataLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace trellis
