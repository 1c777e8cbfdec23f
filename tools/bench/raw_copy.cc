#include "tools/bench/raw_copy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include "tools/bench/baseline.h"
#include "tools/bench/pinset.h"

namespace trellis::bench {

namespace {

// A socket closed on scope exit.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

Status sys_error(const char* what) {
  return Status(Code::io_error, std::string(what) + ": " + std::strerror(errno));
}

bool write_all(int fd, const uint8_t* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Frames: u32 key length, u32 value length (little-endian), key, value.
class FrameWriter {
 public:
  explicit FrameWriter(int fd) : fd_(fd) { buf_.reserve(kFlush + 4096); }
  bool add(std::string_view key, ByteView value) {
    uint32_t lens[2] = {static_cast<uint32_t>(key.size()), static_cast<uint32_t>(value.size())};
    const auto* l = reinterpret_cast<const uint8_t*>(lens);
    buf_.insert(buf_.end(), l, l + sizeof lens);
    buf_.insert(buf_.end(), key.begin(), key.end());
    buf_.insert(buf_.end(), value.begin(), value.end());
    return buf_.size() < kFlush || flush();
  }
  bool flush() {
    bool ok = write_all(fd_, buf_.data(), buf_.size());
    buf_.clear();
    return ok;
  }

 private:
  static constexpr size_t kFlush = 256 * 1024;
  int fd_;
  std::vector<uint8_t> buf_;
};

// Reads frames from fd into the raw store until EOF.
Result<CopyResult> receive(int fd, RawLmdb& raw, size_t batch) {
  CopyResult out;
  std::vector<uint8_t> in;
  size_t used = 0;
  std::vector<KeyValue> kvs;
  std::vector<std::vector<uint8_t>> held;  // the bytes kvs point into, per batch
  auto commit = [&]() -> Status {
    if (kvs.empty()) return Status::ok();
    TRELLIS_TRY(raw.put_batch(kvs));
    kvs.clear();
    held.clear();
    return Status::ok();
  };
  uint8_t chunk[1 << 16];
  for (;;) {
    ssize_t got = ::read(fd, chunk, sizeof chunk);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return sys_error("raw copy: read");
    if (got == 0) break;
    in.insert(in.end(), chunk, chunk + got);
    while (in.size() - used >= 8) {
      uint32_t lens[2];
      std::memcpy(lens, in.data() + used, sizeof lens);
      if (in.size() - used < 8 + size_t{lens[0]} + lens[1]) break;
      held.emplace_back(in.begin() + static_cast<std::ptrdiff_t>(used + 8),
                        in.begin() + static_cast<std::ptrdiff_t>(used + 8 + lens[0] + lens[1]));
      const auto& h = held.back();
      kvs.push_back({ByteView(h.data(), lens[0]), ByteView(h.data() + lens[0], lens[1])});
      used += 8 + size_t{lens[0]} + lens[1];
      out.pins++;
      out.bytes += lens[0] + lens[1];
      if (kvs.size() == batch) TRELLIS_TRY(commit());
    }
    in.erase(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(used));
    used = 0;
  }
  TRELLIS_TRY(commit());
  return out;
}

}  // namespace

Result<CopyResult> raw_copy(const std::string& state_dir, const std::string& raw_dir, size_t batch) {
  auto raw = RawLmdb::open(raw_dir);
  if (!raw) return raw.status();
  Fd listener{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (listener.fd < 0) return sys_error("socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(listener.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(listener.fd, reinterpret_cast<sockaddr*>(&a), &len) != 0 ||
      ::listen(listener.fd, 1) != 0)
    return sys_error("raw copy: listen");

  auto t0 = std::chrono::steady_clock::now();
  Status sent;
  std::thread sender([&] {
    Fd out{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    if (out.fd < 0 || ::connect(out.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      sent = sys_error("raw copy: connect");
      return;
    }
    FrameWriter w(out.fd);
    bool ok = true;
    sent = scan_pins(state_dir, [&](std::string_view k, ByteView v) { return ok = w.add(k, v); });
    if (sent && !(ok && w.flush())) sent = sys_error("raw copy: write");
  });
  Fd in{::accept4(listener.fd, nullptr, nullptr, SOCK_CLOEXEC)};
  Result<CopyResult> got = in.fd < 0 ? Result<CopyResult>(sys_error("raw copy: accept"))
                                     : receive(in.fd, **raw, batch);
  if (!got) ::shutdown(in.fd, SHUT_RDWR);  // unblocks the sender
  sender.join();
  TRELLIS_TRY(sent);
  if (!got) return got.status();
  got->seconds = seconds_since(t0);
  return got;
}

Result<uint64_t> raw_mirror(const std::string& state_dir, const std::string& raw_dir) {
  constexpr size_t kBatch = 100'000;
  auto raw = RawLmdb::open(raw_dir, false);
  if (!raw) return raw.status();
  uint64_t n = 0;
  std::vector<std::string> keys;
  std::vector<Bytes> values;
  Status st;
  auto flush = [&] {
    std::vector<KeyValue> kvs;
    for (size_t i = 0; i < keys.size(); ++i) kvs.push_back({as_bytes(keys[i]), values[i]});
    st = (*raw)->put_batch(kvs);
    keys.clear();
    values.clear();
    return st.is_ok();
  };
  TRELLIS_TRY(scan_pins(state_dir, [&](std::string_view k, ByteView v) {
    keys.emplace_back(k);
    values.emplace_back(v.begin(), v.end());
    ++n;
    return keys.size() < kBatch || flush();
  }));
  TRELLIS_TRY(st);
  if (!keys.empty() && !flush()) return st;
  return n;
}

}  // namespace trellis::bench
