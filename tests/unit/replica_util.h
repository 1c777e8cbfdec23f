// Helpers shared by the replica and sync unit tests.
#pragma once

#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "crdt/replica.h"

namespace trellis::testing {

// A replica with unsynced commits (the tests need atomicity, not fsync).
inline std::unique_ptr<Replica> open_replica(const std::string& dir, ReplicaOptions opts = {}) {
  opts.sync = false;
  auto r = Replica::open(dir, opts);
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  return std::move(*r);
}

inline Bytes val(std::string_view s) { return Bytes(s.begin(), s.end()); }

// Every live key and its value.
inline std::map<std::string, std::string> dump(Replica& r, std::string_view prefix = "") {
  std::map<std::string, std::string> out;
  REQUIRE(r.scan(prefix, [&](std::string_view k, ByteView v) {
    out.emplace(k, as_chars(v));
    return true;
  }).is_ok());
  return out;
}

// Every stored block, in CID order.
inline std::vector<IncomingBlock> all_blocks(Replica& r) {
  std::vector<IncomingBlock> out;
  REQUIRE(r.store().read([&](const Txn& t) {
    Cursor c(t, r.store().dbs().blocks);
    for (bool ok = c.first(); ok; ok = c.next())
      out.push_back({*Cid::from_bytes(c.key()), Bytes(c.value().begin(), c.value().end())});
    return Status::ok();
  }).is_ok());
  return out;
}

}  // namespace trellis::testing
