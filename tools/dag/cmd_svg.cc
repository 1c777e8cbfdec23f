// trellis-dag svg: the dot drawing rendered by Graphviz (dot -Tsvg).
#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "tools/dag/cli.h"
#include "tools/dag/dot.h"

extern char** environ;

namespace trellis::dag {

namespace {

// The path of an executable `name` in $PATH, if there is one.
std::optional<std::string> find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string_view rest = path ? path : "";
  while (!rest.empty()) {
    size_t colon = std::min(rest.find(':'), rest.size());
    std::string dir(rest.substr(0, colon));
    std::string full = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(full.c_str(), X_OK) == 0) return full;
    rest.remove_prefix(std::min(colon + 1, rest.size()));
  }
  return std::nullopt;
}

// Waits for a child; its exit code, or 128 + the signal that ended it.
int wait_for(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct Child {
  pid_t pid = -1;
  std::FILE* in = nullptr;  // the child's stdin
};

// Starts argv[0] (a path) with a pipe as its stdin.
Result<Child> spawn_with_input(const std::vector<std::string>& argv) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Status(Code::io_error, "cannot make a pipe");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[0], 0);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  Child child;
  int rc = posix_spawn(&child.pid, argv[0].c_str(), &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[0]);
  if (rc != 0) {
    ::close(fds[1]);
    return Status(Code::io_error, "cannot run " + argv[0] + ": " + std::strerror(rc));
  }
  child.in = ::fdopen(fds[1], "w");
  if (!child.in) {
    const int err = errno;
    ::close(fds[1]);
    wait_for(child.pid);
    return Status(Code::io_error, "cannot write to " + argv[0] + ": " + std::strerror(err));
  }
  return child;
}

}  // namespace

int cmd_svg(const Context& ctx, Args args) {
  auto parsed = parse_args("svg", args, {.with_value = {"--levels", "--out"}});
  if (!parsed) return kExitUsage;
  std::optional<uint64_t> levels;
  if (!parse_levels("svg", *parsed, &levels)) return kExitUsage;
  const std::optional<std::string> out = parsed->get("--out");
  if (out && out->empty()) return usage_error("svg", "--out needs a file name");
  auto dot = find_on_path("dot");
  if (!dot) {
    error_line(
        "Graphviz's dot is not on PATH: install graphviz (apt install graphviz), or run "
        "trellis-dag " +
        ctx.store_dir + " dot > dag.dot and render that elsewhere");
    return kExitStore;
  }
  auto store = open_read_only(ctx);
  if (!store) return kExitStore;

  // dot writes next to FILE, which appears only once complete.
  const std::string partial = out ? *out + ".partial" : "";
  std::vector<std::string> argv = {*dot, "-Tsvg"};
  if (out) argv.insert(argv.end(), {"-o", partial});
  std::fflush(stdout);
  auto child = spawn_with_input(argv);
  if (!child) return store_error(child.status());
  std::signal(SIGPIPE, SIG_IGN);  // a dot that fails early must not kill us
  Status st;
  bool written = true;
  try {
    st = store->read(
        [&](const Txn& txn) { return write_dot(txn, store->dbs(), levels, child->in); });
  } catch (const std::system_error&) {
    written = false;
  }
  written = std::fclose(child->in) == 0 && written;
  const int rc = wait_for(child->pid);
  if (!st || !written || rc != 0) {
    if (out) ::unlink(partial.c_str());
    if (!st) return store_error(st);
    error_line(fmt::format("{} -Tsvg failed (exit {}); see its message above", *dot, rc));
    return kExitStore;
  }
  if (out && std::rename(partial.c_str(), out->c_str()) != 0) {
    error_line(fmt::format("cannot rename {} to {}: {}", partial, *out, std::strerror(errno)));
    ::unlink(partial.c_str());
    return kExitStore;
  }
  return kExitOk;
}

}  // namespace trellis::dag
