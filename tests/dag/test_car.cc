// trellis-dag export / import: a CARv1 round trip between stores.
#include <doctest/doctest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "crdt/car.h"
#include "harness.h"

using namespace trellis;
using namespace trellis::dagtest;
using nlohmann::json;

namespace {

std::set<std::string> head_set(const std::string& heads_output) {
  std::set<std::string> out;
  for (const auto& line : lines(heads_output)) out.insert(line);
  return out;
}

}  // namespace

TEST_CASE("export then import into a fresh store gives the same keys and heads") {
  TempDir tmp;
  Built built = build_store(tmp.sub("a"), tmp.sub("b"));
  const std::string car = tmp.sub("a.car");
  Run ex = dag({tmp.sub("a"), "export", car});
  REQUIRE_MESSAGE(ex.code == 0, describe(ex));
  CHECK(ex.out.find("exported " + std::to_string(built.merged) + " merged blocks") !=
        std::string::npos);

  // The archive: a valid CARv1 header whose roots are the heads, then one
  // section per merged block, each hashing to its CID.
  auto reader = CarReader::open(car);
  REQUIRE_MESSAGE(reader.is_ok(), reader.status().to_string());
  std::vector<Cid> roots = reader->roots();
  std::vector<Cid> heads = built.heads;
  std::sort(roots.begin(), roots.end());
  std::sort(heads.begin(), heads.end());
  CHECK(roots == heads);
  size_t sections = 0;
  std::set<Cid> seen;
  for (;;) {
    Cid cid;
    Bytes bytes;
    auto more = reader->next(&cid, &bytes);
    REQUIRE_MESSAGE(more.is_ok(), more.status().to_string());
    if (!*more) break;
    ++sections;
    CHECK(Cid::of_block(bytes) == cid);
    // Lowest height first: every link was exported before the block.
    auto block = decode_block(bytes);
    REQUIRE(block.is_ok());
    for (const auto& l : block->links) CHECK(seen.count(l) == 1);
    seen.insert(cid);
  }
  CHECK(sections == built.merged);

  const std::string fresh = tmp.sub("fresh");
  Run im = dag({fresh, "import", car});
  REQUIRE_MESSAGE(im.code == 0, describe(im));
  CHECK(im.out.find(std::to_string(built.merged) + " merged") != std::string::npos);
  CHECK(im.out.find("0 rejected") != std::string::npos);

  Run keys_a = dag({tmp.sub("a"), "keys"});
  Run keys_f = dag({fresh, "keys"});
  REQUIRE(keys_a.code == 0);
  REQUIRE(keys_f.code == 0);
  CHECK(keys_a.out == keys_f.out);
  CHECK(dag({"--json", tmp.sub("a"), "keys"}).out == dag({"--json", fresh, "keys"}).out);
  CHECK(head_set(dag({tmp.sub("a"), "heads"}).out) == head_set(dag({fresh, "heads"}).out));
  Run v = dag({fresh, "verify"});
  CHECK_MESSAGE(v.code == 0, describe(v));

  // Importing again changes nothing: every block is already present.
  Run again = dag({"--json", fresh, "import", car});
  REQUIRE_MESSAGE(again.code == 0, describe(again));
  json o = json::parse(again.out);
  CHECK(o["duplicates"] == built.merged);
  CHECK(o["stored"] == 0);
}

TEST_CASE("import refuses a store a writer holds, and bad archives") {
  TempDir tmp;
  build_store(tmp.sub("a"), tmp.sub("b"));
  const std::string car = tmp.sub("a.car");
  REQUIRE(dag({tmp.sub("a"), "export", car}).code == 0);

  auto writer = open_replica(tmp.sub("b"));  // holds b's writer lock
  Run busy = dag({tmp.sub("b"), "import", car});
  CHECK(busy.code == 3);
  CHECK(busy.err.find("stop the daemon") != std::string::npos);
  writer.reset();

  Run missing = dag({tmp.sub("b"), "import", tmp.sub("no-such.car")});
  CHECK(missing.code == 3);

  // A truncated archive: the blocks before the cut are kept, the error shown.
  Run trunc = shell("head -c 300 " + shell_quote(car) + " > " + shell_quote(tmp.sub("cut.car")));
  REQUIRE(trunc.code == 0);
  Run cut = dag({tmp.sub("c"), "import", tmp.sub("cut.car")});
  CHECK(cut.code == 3);
  CHECK(cut.err.find("cut.car") != std::string::npos);
}

TEST_CASE("import merges blocks whatever their order and reports rejects") {
  TempDir tmp;
  Built built = build_store(tmp.sub("a"), tmp.sub("b"));
  // Write a CAR by hand: heads first (reverse causal order) plus one block
  // whose bytes do not match its CID.
  std::vector<std::pair<Cid, Bytes>> blocks;
  {
    auto a = open_replica(tmp.sub("a"));
    REQUIRE(a->store()
                .read([&](const Txn& t) {
                  Cursor c(t, a->store().dbs().blocks);
                  for (bool ok = c.first(); ok; ok = c.next()) {
                    auto cid = Cid::from_bytes(c.key());
                    REQUIRE(cid.is_ok());
                    blocks.emplace_back(*cid, Bytes(c.value().begin(), c.value().end()));
                  }
                  return Status::ok();
                })
                .is_ok());
  }
  std::sort(blocks.begin(), blocks.end(), [](const auto& x, const auto& y) {
    return decode_block(x.second)->delta.priority > decode_block(y.second)->delta.priority;
  });
  const std::string car = tmp.sub("hand.car");
  auto w = CarWriter::create(car, built.heads);
  REQUIRE(w.is_ok());
  for (const auto& [cid, bytes] : blocks) REQUIRE(w->add(cid, bytes).is_ok());
  REQUIRE(w->add(Cid::of_block(val("x")), val("y")).is_ok());
  REQUIRE(w->finish().is_ok());

  Run im = dag({"--json", tmp.sub("fresh"), "import", car});
  CHECK(im.code == 1);  // one rejected block
  json o = json::parse(im.out);
  CHECK(o["merged"] == built.merged);
  CHECK(o["rejected"] == 1);
  CHECK(o["unmerged_roots"].empty());
  CHECK(im.err.find("do not hash") != std::string::npos);
  CHECK(dag({tmp.sub("a"), "keys"}).out == dag({tmp.sub("fresh"), "keys"}).out);
}
