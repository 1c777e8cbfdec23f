// trellis-dag: a read-only inspector for a replica store directory.
// This file: global options, dispatch and error reporting.
#include <fmt/format.h>

#include <cstdio>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "tools/dag/cli.h"
#include "tools/dag/store_dir.h"
#include "tools/dag/watch.h"

namespace trellis::dag {

namespace {

struct Command {
  std::string_view name;
  int (*run)(const Context&, Args);
};

constexpr Command kCommands[] = {
    {"info", cmd_info},       {"heads", cmd_heads},   {"show", cmd_show},     {"walk", cmd_walk},
    {"keys", cmd_keys},       {"get", cmd_get},       {"verify", cmd_verify}, {"dot", cmd_dot},
    {"export", cmd_export},   {"import", cmd_import}, {"diff", cmd_diff},     {"stats", cmd_stats},
    {"history", cmd_history}, {"svg", cmd_svg},
};

const Command* find_command(std::string_view name) {
  for (const auto& c : kCommands)
    if (c.name == name) return &c;
  return nullptr;
}

std::string command_list() {
  std::string out;
  for (const auto& c : kCommands) {
    if (!out.empty()) out += ", ";
    out += c.name;
  }
  return out;
}

int help_command(std::string_view command) {
  if (command.empty()) {
    print_help();
    return kExitOk;
  }
  std::string_view text = command_help(command);
  if (text.empty())
    return usage_error("",
                       fmt::format("unknown command '{}' (commands: {})", command, command_list()));
  fmt::print("Usage: trellis-dag [--json] STORE_DIR {}", text);
  return kExitOk;
}

int run(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  Context ctx;
  bool store_given = false;
  std::vector<std::string> positional;  // STORE_DIR, COMMAND and its arguments
  bool options_done = false;
  bool help = false;
  bool live = false;
  std::optional<std::string> interval, count;  // --live's options
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (options_done) {
      positional.push_back(a);
    } else if (a == "--") {
      // After COMMAND, keep "--" for the command (it ends its options too).
      options_done = true;
      if (positional.size() >= (store_given ? 1u : 2u)) positional.push_back(a);
    } else if (a == "--json") {
      ctx.json = true;
    } else if (a == "-h" || a == "--help") {
      help = true;
    } else if (a == "--live") {
      live = true;
    } else if (a == "--interval" || a == "--count") {
      if (i + 1 >= args.size()) return usage_error("", a + " needs a value");
      (a == "--interval" ? interval : count) = args[++i];
    } else if ((a == "--store" || a.starts_with("--store=")) && positional.empty()) {
      if (store_given) return usage_error("", "--store given twice");
      if (a == "--store") {
        if (i + 1 >= args.size()) return usage_error("", "--store needs a directory");
        ctx.store_dir = args[++i];
      } else {
        ctx.store_dir = a.substr(8);
      }
      store_given = true;
    } else {
      positional.push_back(a);
    }
  }

  if (!positional.empty() && positional[0] == "help")
    return help_command(positional.size() > 1 ? positional[1] : "");

  size_t next = 0;
  if (!store_given) {
    if (positional.empty()) {
      if (help) return help_command("");
      return usage_error("", "missing STORE_DIR and COMMAND");
    }
    // "trellis-dag info" (no directory) is a common slip: say so.
    if (positional.size() == 1 && find_command(positional[0]) && !help)
      return usage_error("", fmt::format("missing STORE_DIR before '{}'; pass the directory "
                                         "given to trellisd/trellis-bench sim --out",
                                         positional[0]));
    ctx.store_dir = positional[next++];
  }
  if (ctx.store_dir.empty()) return usage_error("", "STORE_DIR is empty");
  StoreLocation where = locate_store(ctx.store_dir);
  ctx.store_dir = where.store;
  ctx.lock_file = where.lock_file;
  if (next >= positional.size()) {
    if (help) return help_command("");
    return usage_error(
        "", fmt::format("missing COMMAND after {} (commands: {})", ctx.store_dir, command_list()));
  }
  const std::string& name = positional[next++];
  const Command* cmd = find_command(name);
  if (!cmd)
    return usage_error("",
                       fmt::format("unknown command '{}' (commands: {})", name, command_list()));
  if (help) return help_command(name);
  std::vector<std::string> rest(positional.begin() + static_cast<std::ptrdiff_t>(next),
                                positional.end());
  if (!live) {
    if (interval || count) return usage_error("", "--interval and --count go with --live");
    return cmd->run(ctx, rest);
  }
  if (name == "export" || name == "import")
    return usage_error("", "--live repeats a command that only reads; " + name + " writes a file");
  auto watch_opts = watch_options(interval, count);
  if (!watch_opts) return kExitUsage;
  return watch(ctx, *watch_opts, [&] { return cmd->run(ctx, rest); });
}

}  // namespace

void error_line(std::string_view message) {
  std::fflush(stdout);
  fmt::print(stderr, "trellis-dag: {}\n", message);
}

int usage_error(std::string_view command, std::string_view message) {
  error_line(message);
  if (command.empty())
    fmt::print(stderr,
               "Usage: trellis-dag [--json] [--live ...] STORE_DIR COMMAND [ARGS]; see trellis-dag "
               "--help\n");
  else
    fmt::print(stderr, "Usage: trellis-dag [--json] STORE_DIR {}", command_help(command));
  return kExitUsage;
}

int store_error(const Status& st) {
  error_line(st.to_string());
  return kExitStore;
}

std::unique_ptr<Store> open_read_only(const Context& ctx) {
  StoreOptions opts;
  opts.read_only = true;
  auto store = Store::open(ctx.store_dir, opts);
  if (store) return std::move(*store);
  const Status& st = store.status();
  if (st.code() == Code::not_found)
    error_line(st.message() +
               " — pass a store directory (trellis-bench sim --out) or a trellisd data "
               "directory (holding state/)");
  else
    error_line("cannot open store " + ctx.store_dir + ": " + st.to_string());
  return nullptr;
}

}  // namespace trellis::dag

int main(int argc, char** argv) {
  try {
    int rc = trellis::dag::run(argc, argv);
    if (std::fflush(stdout) != 0 && rc == trellis::dag::kExitOk) {
      std::perror("trellis-dag: writing output");
      return trellis::dag::kExitStore;
    }
    return rc;
  } catch (const std::exception& e) {
    trellis::dag::error_line(std::string("unexpected error: ") + e.what());
    return trellis::dag::kExitStore;
  }
}
