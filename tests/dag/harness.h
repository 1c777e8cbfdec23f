// Test harness for trellis-dag: temporary directories, stores built with
// real replicas, and running the trellis-dag binary.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "crdt/replica.h"

namespace trellis::dagtest {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct Run {
  int code = -1;
  std::string out, err;
};

// A run's output, for failure messages.
std::string describe(const Run& r);

// Runs trellis-dag with `args` (no shell interpretation of their content);
// stdin is /dev/null.
Run dag(const std::vector<std::string>& args);
// Runs a shell command line, capturing stdout (stderr to the same Run).
Run shell(const std::string& command);
std::string shell_quote(const std::string& s);

std::unique_ptr<Replica> open_replica(const std::string& dir);
Bytes val(std::string_view s);
// Moves every block `dst` needs from `src` (heads announcement, then wants
// until none are left).
void sync(Replica& src, Replica& dst);
// The live key → value map via Replica::scan.
std::map<std::string, std::string> contents(const Replica& r);
std::vector<std::string> lines(const std::string& text);
// The CIDs of every block stored (merged or not), as text.
std::set<std::string> stored_blocks(const Replica& r);

// A store with history: two replicas writing, removing and syncing. The
// store at `dir` (replica "a") ends up with merged blocks, several of them
// below the heads, two heads, and these live keys.
struct Built {
  std::map<std::string, std::string> keys;
  std::vector<Cid> heads;
  size_t merged = 0;
};
Built build_store(const std::string& dir, const std::string& peer_dir);

// Merged blocks of a store that are neither heads nor roots-of-nothing:
// returns a merged, non-head block that some merged block links to.
Cid interior_block(Replica& r);

}  // namespace trellis::dagtest
