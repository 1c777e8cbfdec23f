// Shared by the trellis CLI's files: exit codes and the error model.
//
// Error model: a command that cannot go on throws cli::Failure with the exit
// code scripts see and a one-line message; main() prints "trellis: MESSAGE"
// on stderr and exits with that code. Nothing else is thrown past a command
// (JSON and Boost errors are caught where they happen and turned into one).
#pragma once

#include <string>
#include <utility>

namespace trellis::cli {

enum Exit : int {
  kOk = 0,           // done
  kApiError = 1,     // the API answered with an error (or something unreadable)
  kUsage = 2,        // bad command line
  kUnreachable = 3,  // no --host could be reached
  kWaitFailed = 4,   // --wait timed out, or a pin/unpin failed on a peer
};

struct Failure {
  int code;
  std::string message;
};

[[noreturn]] inline void fail(int code, std::string message) {
  throw Failure{code, std::move(message)};
}

}  // namespace trellis::cli
