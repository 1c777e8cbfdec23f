// trellis-dag: shared command-line context, exit codes and command entry
// points. Each command lives in its own file and parses its own arguments.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "crdt/status.h"
#include "crdt/store.h"

namespace trellis::dag {

// Exit codes (documented in --help).
inline constexpr int kExitOk = 0;
inline constexpr int kExitProblems = 1;  // verify found problems, key/block not found, diff differs
inline constexpr int kExitUsage = 2;     // bad command line
inline constexpr int kExitStore = 3;     // store or file could not be read/written

struct Context {
  std::string store_dir;  // holds data.mdb (DIR/state of a trellisd data directory)
  std::string lock_file;  // what a writer locks: DIR/lock of trellisd, else writer.lock
  bool json = false;
};

using Args = std::span<const std::string>;

// Prints "trellis-dag: <message>" to stderr and returns kExitUsage, adding a
// pointer to the help of `command`.
int usage_error(std::string_view command, std::string_view message);
// Prints a failed Status to stderr and returns kExitStore.
int store_error(const Status& st);
// Prints "trellis-dag: <message>" to stderr.
void error_line(std::string_view message);

// Opens the store read-only (works while a daemon writes to it). On failure
// prints an error that says what to do and returns nullptr.
std::unique_ptr<Store> open_read_only(const Context& ctx);

// Commands: each returns an exit code.
int cmd_info(const Context& ctx, Args args);
int cmd_heads(const Context& ctx, Args args);
int cmd_show(const Context& ctx, Args args);
int cmd_walk(const Context& ctx, Args args);
int cmd_keys(const Context& ctx, Args args);
int cmd_get(const Context& ctx, Args args);
int cmd_verify(const Context& ctx, Args args);
int cmd_dot(const Context& ctx, Args args);
int cmd_export(const Context& ctx, Args args);
int cmd_import(const Context& ctx, Args args);
int cmd_diff(const Context& ctx, Args args);
int cmd_stats(const Context& ctx, Args args);
int cmd_history(const Context& ctx, Args args);
int cmd_svg(const Context& ctx, Args args);

// Help text of one command ("" if unknown) and of the whole tool.
std::string_view command_help(std::string_view command);
void print_help();

}  // namespace trellis::dag
