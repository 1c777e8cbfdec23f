// A real js-ipfs daemon for tests: runs tests/ipfs/ipfsd.py (which inits
// the repo on loopback-only ports and starts `jsipfs daemon`) as a child
// process and stops it with SIGTERM. Restarting keeps the repo and the API
// port. Needs js-ipfs installed by tools/ipfs-install.
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace trellis::testing {

class IpfsDaemon {
 public:
  explicit IpfsDaemon(std::string dir) : dir_(std::move(dir)) {}
  ~IpfsDaemon() { stop(); }
  IpfsDaemon(const IpfsDaemon&) = delete;
  IpfsDaemon& operator=(const IpfsDaemon&) = delete;

  // Starts the daemon and waits until its API answers; throws with the
  // helper's output when it does not start.
  void start() {
    int out[2];
    if (pipe(out) != 0) throw std::runtime_error("pipe failed");
    std::string script = std::string(TRELLIS_SOURCE_DIR) + "/tests/ipfs/ipfsd.py";
    std::string port = std::to_string(port_);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], 1);
      close(out[0]);
      close(out[1]);
      execlp("python3", "python3", script.c_str(), "run", dir_.c_str(), "--api-port",
             port.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(out[1]);
    FILE* f = fdopen(out[0], "r");
    char line[256];
    std::string got;
    while (fgets(line, sizeof line, f)) {
      got = line;
      if (got.rfind("API ", 0) == 0) break;
    }
    fclose(f);
    auto colon = got.rfind(':');
    if (got.rfind("API ", 0) != 0 || colon == std::string::npos) {
      stop();
      throw std::runtime_error("js-ipfs did not start (run tools/ipfs-install?): " + got);
    }
    port_ = static_cast<uint16_t>(std::stoi(got.substr(colon + 1)));
  }

  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  void restart() {
    stop();
    start();
  }

  uint16_t port() const { return port_; }
  bool running() const { return pid_ > 0; }

 private:
  std::string dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace trellis::testing
