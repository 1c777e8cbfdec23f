// trellis-dag info, heads, keys, get, show, walk, dot and usage errors,
// run as a separate process against a store built by real replicas.
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "harness.h"

using namespace trellis;
using namespace trellis::dagtest;
using nlohmann::json;

TEST_CASE("info counts match the replica") {
  TempDir tmp;
  Built built = build_store(tmp.sub("a"), tmp.sub("b"));
  Run r = dag({"--json", tmp.sub("a"), "info"});
  REQUIRE_MESSAGE(r.code == 0, describe(r));
  json j = json::parse(r.out);
  CHECK(j["keys"] == built.keys.size());
  CHECK(j["merged"] == built.merged);
  CHECK(j["blocks"] == built.merged);
  CHECK(j["pending"] == 0);
  CHECK(j["wants"] == 0);
  CHECK(j["ready"] == 0);
  CHECK(j["heads"].size() == 2);
  CHECK(j["tombstones"].get<size_t>() >= 2);  // alpha and delta were removed
  CHECK(j["map_size"].get<size_t>() > 0);

  Run text = dag({tmp.sub("a"), "info"});
  REQUIRE_MESSAGE(text.code == 0, describe(text));
  CHECK(text.out.find("keys:        " + std::to_string(built.keys.size()) + " live") !=
        std::string::npos);
  // --store and --json after the command are accepted too.
  Run alt = dag({"--store", tmp.sub("a"), "info", "--json"});
  REQUIRE_MESSAGE(alt.code == 0, describe(alt));
  CHECK(json::parse(alt.out)["keys"] == built.keys.size());
}

TEST_CASE("heads, keys and get") {
  TempDir tmp;
  Built built = build_store(tmp.sub("a"), tmp.sub("b"));
  const std::string a = tmp.sub("a");

  Run heads = dag({a, "heads"});
  REQUIRE_MESSAGE(heads.code == 0, describe(heads));
  std::set<std::string> printed;
  for (const auto& line : lines(heads.out)) printed.insert(line.substr(0, line.find(' ')));
  std::set<std::string> expected;
  for (const auto& h : built.heads) expected.insert(h.to_string());
  CHECK(printed == expected);

  Run keys = dag({a, "keys"});
  REQUIRE_MESSAGE(keys.code == 0, describe(keys));
  std::vector<std::string> want;
  for (const auto& [k, v] : built.keys) want.push_back(k);
  CHECK(lines(keys.out) == want);
  CHECK(std::find(want.begin(), want.end(), "alpha") == want.end());  // removed
  CHECK(std::find(want.begin(), want.end(), "delta") == want.end());  // removed

  Run prefixed = dag({a, "keys", "dir/"});
  CHECK(lines(prefixed.out) == std::vector<std::string>{"dir/x", "dir/y", "dir/z"});

  Run js = dag({"--json", a, "keys"});
  REQUIRE_MESSAGE(js.code == 0, describe(js));
  auto jl = lines(js.out);
  REQUIRE(jl.size() == built.keys.size());
  for (const auto& line : jl) {
    json o = json::parse(line);
    const std::string key = o["key"];
    if (key == "gamma") {
      CHECK(o["value_hex"] == "000102ff0a");  // not UTF-8: hex
    } else {
      CHECK(o["value"] == built.keys.at(key));
    }
  }

  Run get = dag({a, "get", "beta"});
  CHECK(get.code == 0);
  CHECK(get.out == built.keys.at("beta"));
  Run bin = dag({a, "get", "gamma"});
  CHECK(bin.code == 0);
  CHECK(bin.out == std::string("\0\1\2\xff\n", 5));
  Run absent = dag({a, "get", "alpha"});
  CHECK(absent.code == 1);
  CHECK(absent.out.empty());
  CHECK(absent.err.find("alpha") != std::string::npos);
}

TEST_CASE("show a head and a missing block") {
  TempDir tmp;
  Built built = build_store(tmp.sub("a"), tmp.sub("b"));
  const std::string a = tmp.sub("a");
  for (const auto& h : built.heads) {
    Run r = dag({a, "show", h.to_string()});
    REQUIRE_MESSAGE(r.code == 0, describe(r));
    CHECK(r.out.find("merged (height") != std::string::npos);
    CHECK(r.out.find("head") != std::string::npos);
    Run j = dag({"--json", a, "show", h.to_string()});
    REQUIRE_MESSAGE(j.code == 0, describe(j));
    json o = json::parse(j.out);
    CHECK(o["state"] == "merged");
    CHECK(o["head"] == true);
    for (const auto& l : o["links"]) CHECK(l["state"] == "merged");
  }
  // Find epsilon's block by walking: its element is the key's current value;
  // alpha's element was tombstoned.
  bool seen_epsilon = false, seen_alpha = false;
  for (const auto& line : lines(dag({"--json", a, "walk"}).out)) {
    json o = json::parse(dag({"--json", a, "show", json::parse(line)["cid"]}).out);
    for (const auto& e : o["elements"]) {
      if (e["key"] == "alpha") {
        seen_alpha = true;
        CHECK(e["fate"] == "tombstoned");
      }
      if (e["key"] == "epsilon") {
        seen_epsilon = true;
        CHECK(e["value"] == "5");
        CHECK(e["fate"] == "live, current value");
      }
    }
  }
  CHECK(seen_epsilon);
  CHECK(seen_alpha);

  // A CID that is not stored: exit 1; garbage: usage error.
  Cid other = Cid::of_block(val("not a block"));
  Run miss = dag({a, "show", other.to_string()});
  CHECK(miss.code == 1);
  CHECK(miss.err.find("not stored") != std::string::npos);
  Run bad = dag({a, "show", "not-a-cid"});
  CHECK(bad.code == 2);
}

TEST_CASE("walk visits every merged block once, breadth-first") {
  TempDir tmp;
  Built built = build_store(tmp.sub("a"), tmp.sub("b"));
  const std::string a = tmp.sub("a");
  Run r = dag({a, "walk"});
  REQUIRE_MESSAGE(r.code == 0, describe(r));
  auto ls = lines(r.out);
  CHECK(ls.size() == built.merged);
  std::set<std::string> cids;
  uint64_t prev_height = UINT64_MAX;
  size_t decreasing = 0;
  for (const auto& line : ls) {
    std::istringstream in(line);
    std::string cid, state;
    uint64_t height, elements, tombstones;
    in >> cid >> height >> elements >> tombstones >> state;
    CHECK(state == "merged");
    cids.insert(cid);
    if (height <= prev_height) ++decreasing;
    prev_height = height;
  }
  CHECK(cids.size() == built.merged);
  CHECK(decreasing * 2 >= ls.size());  // mostly top-down

  Run limited = dag({a, "walk", "--limit", "3"});
  CHECK(lines(limited.out).size() == 3);

  Run json_walk = dag({"--json", a, "walk", "--from", built.heads[0].to_string()});
  REQUIRE_MESSAGE(json_walk.code == 0, describe(json_walk));
  auto first = json::parse(lines(json_walk.out).at(0));
  CHECK(first["cid"] == built.heads[0].to_string());
  CHECK(first["state"] == "merged");

  Cid absent = Cid::of_block(val("nothing"));
  Run miss = dag({a, "walk", "--from", absent.to_string()});
  CHECK(miss.code == 0);
  CHECK(miss.out == absent.to_string() + " - - - missing\n");
}

TEST_CASE("dot output is a digraph that graphviz accepts") {
  TempDir tmp;
  Built built = build_store(tmp.sub("a"), tmp.sub("b"));
  const std::string a = tmp.sub("a");
  Run r = dag({a, "dot"});
  REQUIRE_MESSAGE(r.code == 0, describe(r));
  CHECK(r.out.rfind("digraph", 0) == 0);
  CHECK(std::count(r.out.begin(), r.out.end(), '{') == std::count(r.out.begin(), r.out.end(), '}'));
  size_t nodes = 0;
  for (const auto& line : lines(r.out))
    if (line.find("[label=") != std::string::npos) ++nodes;
  CHECK(nodes == built.merged);

  Run top = dag({a, "dot", "--levels", "1"});
  REQUIRE_MESSAGE(top.code == 0, describe(top));
  size_t top_nodes = 0;
  for (const auto& line : lines(top.out))
    if (line.find("[label=") != std::string::npos) ++top_nodes;
  CHECK(top_nodes >= 1);
  CHECK(top_nodes < nodes);

  if (shell("command -v dot").code == 0) {
    std::string file = tmp.sub("dag.dot");
    std::ofstream(file) << r.out;
    Run svg = shell("dot -Tsvg " + shell_quote(file));
    CHECK_MESSAGE(svg.code == 0, svg.err);
    CHECK(svg.out.find("<svg") != std::string::npos);
  } else {
    MESSAGE("graphviz dot not installed: skipping the rendering check");
  }
}

TEST_CASE("usage and store errors have their exit codes") {
  TempDir tmp;
  Run none = dag({});
  CHECK(none.code == 2);
  Run help = dag({"--help"});
  CHECK(help.code == 0);
  for (const char* cmd :
       {"info", "heads", "show", "walk", "keys", "get", "verify", "dot", "export", "import"})
    CHECK(help.out.find(std::string("\n  ") + cmd) != std::string::npos);
  Run no_dir = dag({"info"});
  CHECK(no_dir.code == 2);
  CHECK(no_dir.err.find("STORE_DIR") != std::string::npos);
  Run missing = dag({tmp.sub("nothing-here"), "info"});
  CHECK(missing.code == 3);
  CHECK(missing.err.find("data.mdb missing") != std::string::npos);
  CHECK(missing.err.find("--out") != std::string::npos);
  build_store(tmp.sub("a"), tmp.sub("b"));
  CHECK(dag({tmp.sub("a"), "frobnicate"}).code == 2);
  CHECK(dag({tmp.sub("a"), "get"}).code == 2);
  CHECK(dag({tmp.sub("a"), "walk", "--limit", "x"}).code == 2);
  CHECK(dag({tmp.sub("a"), "info", "extra"}).code == 2);
  Run cmd_help = dag({tmp.sub("a"), "verify", "--help"});
  CHECK(cmd_help.code == 0);
  CHECK(cmd_help.out.find("reachable from a head") != std::string::npos);
}
