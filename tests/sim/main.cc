// sim-tests: the seed sweep, the ported scenarios and the merge-order
// property. A custom main keeps argv[0] for the re-run commands it prints.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "tests/sim/common.h"

namespace trellis::sim::test {
std::string g_argv0 = "sim-tests";
}

int main(int argc, char** argv) {
  if (argc > 0) trellis::sim::test::g_argv0 = argv[0];
  doctest::Context ctx(argc, argv);
  return ctx.run();
}
