// trellis-dag svg: the dot drawing through Graphviz, or a message saying how
// to get Graphviz when it is missing.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "harness.h"

using namespace trellis;
using namespace trellis::dagtest;

namespace {

bool graphviz_installed() {
  return shell("command -v dot").code == 0;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("svg renders the dot drawing when Graphviz is installed") {
  TempDir tmp;
  build_store(tmp.sub("a"), tmp.sub("b"));
  Run r = dag({tmp.sub("a"), "svg"});
  if (!graphviz_installed()) {
    CHECK(r.code == 3);
    CHECK(r.err.find("apt install graphviz") != std::string::npos);
    return;
  }
  REQUIRE_MESSAGE(r.code == 0, describe(r));
  CHECK(r.out.find("<svg") != std::string::npos);
  CHECK(r.out.find("gamma") != std::string::npos);  // blocks are labelled with their keys

  Run to_file = dag({tmp.sub("a"), "svg", "--levels", "1", "--out", tmp.sub("dag.svg")});
  REQUIRE_MESSAGE(to_file.code == 0, describe(to_file));
  CHECK(to_file.out.empty());
  std::string svg = read_file(tmp.sub("dag.svg"));
  CHECK(svg.find("<svg") != std::string::npos);
  CHECK(svg.find("gamma") == std::string::npos);  // only the top height is drawn
  CHECK(dag({tmp.sub("a"), "svg", "--levels", "0"}).code == 2);
}

TEST_CASE("svg without Graphviz says what to install") {
  TempDir tmp;
  build_store(tmp.sub("a"), tmp.sub("b"));
  Run r = shell("PATH=" + shell_quote(tmp.path()) + " " + shell_quote(TRELLIS_DAG_BIN) + " " +
                shell_quote(tmp.sub("a")) + " svg");
  CHECK(r.code == 3);
  CHECK(r.out.empty());
  CHECK(r.err.find("apt install graphviz") != std::string::npos);
  CHECK(r.err.find(" dot > dag.dot") != std::string::npos);
}
