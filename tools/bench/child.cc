#include "tools/bench/child.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>
#include <thread>

namespace trellis::bench {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

Status errno_status(const std::string& what) {
  return Status(Code::io_error, what + ": " + std::strerror(errno));
}

// In the child after fork(): its own group, dies with the parent, output
// to the log (and the pipe), then exec. Never returns.
[[noreturn]] void exec_child(const std::vector<std::string>& argv, const std::string& log,
                             int out_fd, pid_t parent) {
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(126);  // the parent is already gone
  int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) _exit(126);
  int null_fd = open("/dev/null", O_RDONLY);
  if (null_fd < 0 || dup2(null_fd, 0) < 0) _exit(126);
  if (dup2(out_fd >= 0 ? out_fd : log_fd, 1) < 0 || dup2(log_fd, 2) < 0) _exit(126);
  close_range(3, ~0U, 0);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execvp(args[0], args.data());
  std::fprintf(stderr, "cannot run %s: %s\n", args[0], std::strerror(errno));
  _exit(127);
}

// fork() + exec_child; *out_fd gets the read end of stdout when asked.
Result<pid_t> spawn(const std::vector<std::string>& argv, const std::string& log, int* out_fd) {
  int pipe_fds[2] = {-1, -1};
  if (out_fd && pipe2(pipe_fds, O_CLOEXEC) != 0) return errno_status("pipe");
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    Status st = errno_status("fork");
    if (out_fd) {
      close(pipe_fds[0]);
      close(pipe_fds[1]);
    }
    return st;
  }
  if (pid == 0) exec_child(argv, log, out_fd ? pipe_fds[1] : -1, parent);
  setpgid(pid, pid);  // also here, so kill(-pid) works at once
  if (out_fd) {
    close(pipe_fds[1]);
    *out_fd = pipe_fds[0];
  }
  return pid;
}

}  // namespace

Child::Child(Child&& o) noexcept : pid_(o.pid_), out_fd_(o.out_fd_), pending_(std::move(o.pending_)) {
  o.pid_ = -1;
  o.out_fd_ = -1;
}

Child& Child::operator=(Child&& o) noexcept {
  if (this != &o) {
    stop();
    pid_ = o.pid_;
    out_fd_ = o.out_fd_;
    pending_ = std::move(o.pending_);
    o.pid_ = -1;
    o.out_fd_ = -1;
  }
  return *this;
}

Child::~Child() {
  stop();
}

Result<Child> Child::start(const std::vector<std::string>& argv, const std::string& log,
                           bool read_stdout) {
  Child c;
  auto pid = spawn(argv, log, read_stdout ? &c.out_fd_ : nullptr);
  if (!pid) return pid.status();
  c.pid_ = *pid;
  return c;
}

Result<std::string> Child::read_line(const std::string& prefix, milliseconds limit) {
  if (out_fd_ < 0) return Status(Code::invalid_argument, "stdout of the child is not read");
  auto deadline = Clock::now() + limit;
  while (true) {
    for (size_t nl; (nl = pending_.find('\n')) != std::string::npos;) {
      std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      if (line.rfind(prefix, 0) == 0) return line;
    }
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return Status(Code::unavailable, "no \"" + prefix + "\" line in time");
    pollfd p{out_fd_, POLLIN, 0};
    int n = poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno != EINTR) return errno_status("poll");
    if (n <= 0) continue;
    char buf[4096];
    ssize_t got = read(out_fd_, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return Status(Code::unavailable, "the process exited (stdout closed)");
    pending_.append(buf, static_cast<size_t>(got));
  }
}

void Child::terminate() const {
  if (pid_ > 0) kill(-pid_, SIGTERM);
}

void Child::stop(milliseconds grace) {
  if (out_fd_ >= 0) {
    close(out_fd_);
    out_fd_ = -1;
  }
  if (pid_ <= 0) return;
  kill(-pid_, SIGTERM);
  auto deadline = Clock::now() + grace;
  int status = 0;
  bool reaped = false;
  while (Clock::now() < deadline) {
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) {
      reaped = true;
      break;
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  kill(-pid_, SIGKILL);  // the rest of the group, or the child itself
  if (!reaped) waitpid(pid_, &status, 0);
  pid_ = -1;
}

double Child::cpu_seconds() const {
  if (pid_ <= 0) return 0;
  std::ifstream f("/proc/" + std::to_string(pid_) + "/stat");
  std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto close_paren = all.rfind(')');
  if (close_paren == std::string::npos) return 0;
  // After "pid (comm)": state is field 3, utime 14 and stime 15.
  std::istringstream in(all.substr(close_paren + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && in >> field; ++i)
    if (i >= 14) ticks += std::strtod(field.c_str(), nullptr);
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double Child::peak_rss_mb() const {
  return status_mb("VmHWM");
}

double Child::status_mb(const char* field) const {
  if (pid_ <= 0) return 0;
  std::ifstream f("/proc/" + std::to_string(pid_) + "/status");
  const std::string want = std::string(field) + ":";
  for (std::string line; std::getline(f, line);)
    if (line.rfind(want, 0) == 0) return std::strtod(line.c_str() + want.size(), nullptr) / 1024.0;
  return 0;
}

Result<std::string> run_command(const std::vector<std::string>& argv, const std::string& log) {
  int out_fd = -1;
  auto pid = spawn(argv, log, &out_fd);
  if (!pid) return pid.status();
  std::string out;
  char buf[4096];
  for (ssize_t got; (got = read(out_fd, buf, sizeof buf)) != 0;) {
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) break;
    out.append(buf, static_cast<size_t>(got));
  }
  close(out_fd);
  int status = 0;
  while (waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return Status(Code::unavailable, argv[0] + " " + (argv.size() > 1 ? argv[1] : "") +
                                         " failed (status " + std::to_string(status) + "): " +
                                         tail_of(log, 5));
  return out;
}

Result<std::vector<uint16_t>> free_ports(size_t n) {
  std::vector<int> fds;
  std::vector<uint16_t> ports;
  Status st;
  while (ports.size() < n && st) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      st = errno_status("socket");
      break;
    }
    fds.push_back(fd);  // held open until all are chosen: no duplicates
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      st = errno_status("bind");
    else
      ports.push_back(static_cast<uint16_t>(ntohs(a.sin_port)));
  }
  for (int fd : fds) close(fd);
  if (!st) return st;
  return ports;
}

std::string tail_of(const std::string& path, size_t n) {
  std::ifstream f(path);
  std::deque<std::string> lines;
  for (std::string line; std::getline(f, line);) {
    lines.push_back(line);
    if (lines.size() > n) lines.pop_front();
  }
  std::string out;
  for (const auto& l : lines) out += "\n    " + l;
  return out;
}

}  // namespace trellis::bench
