// The process that tests/crash kills with SIGKILL at random moments.
//
//   crash-child write DIR START      durable batched puts of keys k<START>..;
//                                    prints "ack N" after each commit returns
//   crash-child sync SRC DST         pulls SRC's DAG into DST newest-first in
//                                    small batches; prints "done" when heads match
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "crdt/replica.h"

using namespace trellis;

namespace {

int fail(const Status& st) {
  std::fprintf(stderr, "crash-child: %s\n", st.to_string().c_str());
  return 1;
}

int write_loop(const std::string& dir, long start) {
  auto r = Replica::open(dir, {});
  if (!r) return fail(r.status());
  for (long n = start;; ) {
    Batch b;
    for (int i = 0; i < 50; ++i, ++n) {
      std::string key = "k" + std::to_string(n);
      Status st = b.put(key, as_bytes(key));
      if (!st) return fail(st);
    }
    auto cid = (*r)->commit(b);
    if (!cid) return fail(cid.status());
    std::printf("ack %ld\n", n - 1);
    std::fflush(stdout);
  }
}

int sync_loop(const std::string& src_dir, const std::string& dst_dir) {
  ReplicaOptions ro;
  ro.read_only = true;
  auto src = Replica::open(src_dir, ro);
  if (!src) return fail(src.status());
  ReplicaOptions wo;
  wo.merge_budget = 64;
  auto dst = Replica::open(dst_dir, wo);
  if (!dst) return fail(dst.status());
  auto heads = (*src)->heads();
  if (!heads) return fail(heads.status());
  auto first = (*dst)->on_heads("src", *heads);
  if (!first) return fail(first.status());
  for (;;) {
    auto wants = (*dst)->wants(16);
    if (!wants) return fail(wants.status());
    if (wants->empty()) break;
    std::vector<IncomingBlock> blocks;
    Status st = (*src)->store().read([&](const Txn& t) {
      for (const auto& w : *wants) {
        auto v = t.get((*src)->store().dbs().blocks, w.cid.view());
        if (!v) return Status(Code::not_found, "source lacks " + w.cid.to_string());
        blocks.push_back({w.cid, Bytes(v->begin(), v->end())});
      }
      return Status::ok();
    });
    if (!st) return fail(st);
    auto res = (*dst)->on_blocks(blocks);
    if (!res) return fail(res.status());
  }
  std::printf("done\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 3 && args[0] == "write") return write_loop(args[1], std::atol(args[2].c_str()));
  if (args.size() == 3 && args[0] == "sync") return sync_loop(args[1], args[2]);
  std::fprintf(stderr, "usage: crash-child write DIR START | crash-child sync SRC DST\n");
  return 2;
}
