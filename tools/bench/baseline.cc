#include "tools/bench/baseline.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "crdt/store.h"

namespace trellis::bench {

namespace {

// Large enough for every benchmark's data; the file grows only as written.
constexpr size_t kMapSize = size_t{16} << 30;

MDB_val val(ByteView b) {
  return {b.size(), const_cast<uint8_t*>(b.data())};
}

}  // namespace

Result<std::unique_ptr<RawLmdb>> RawLmdb::open(const std::string& dir, bool sync) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return Status(Code::io_error, "cannot create " + dir + ": " + std::strerror(errno));
  std::unique_ptr<RawLmdb> db(new RawLmdb());
  TRELLIS_TRY(lmdb_status(mdb_env_create(&db->env_), "baseline env create"));
  TRELLIS_TRY(lmdb_status(mdb_env_set_maxdbs(db->env_, 1), "baseline set maxdbs"));
  TRELLIS_TRY(lmdb_status(mdb_env_set_mapsize(db->env_, kMapSize), "baseline mapsize"));
  TRELLIS_TRY(lmdb_status(mdb_env_open(db->env_, dir.c_str(), sync ? 0u : MDB_NOSYNC, 0600),
                          "baseline env open"));
  MDB_txn* txn = nullptr;
  TRELLIS_TRY(lmdb_status(mdb_txn_begin(db->env_, nullptr, 0, &txn), "baseline begin"));
  int rc = mdb_dbi_open(txn, "kv", MDB_CREATE, &db->dbi_);
  if (rc != 0) {
    mdb_txn_abort(txn);
    return lmdb_status(rc, "baseline dbi open");
  }
  TRELLIS_TRY(lmdb_status(mdb_txn_commit(txn), "baseline commit"));
  return db;
}

RawLmdb::~RawLmdb() {
  if (env_) mdb_env_close(env_);
}

Status RawLmdb::put_batch(std::span<const KeyValue> kvs) {
  MDB_txn* txn = nullptr;
  TRELLIS_TRY(lmdb_status(mdb_txn_begin(env_, nullptr, 0, &txn), "baseline begin"));
  for (const auto& kv : kvs) {
    MDB_val k = val(kv.key), v = val(kv.value);
    int rc = mdb_put(txn, dbi_, &k, &v, 0);
    if (rc != 0) {
      mdb_txn_abort(txn);
      return lmdb_status(rc, "baseline put");
    }
  }
  return lmdb_status(mdb_txn_commit(txn), "baseline commit");
}

Result<size_t> RawLmdb::scan(uint64_t* bytes) const {
  return scan_prefix({}, bytes);
}

Result<size_t> RawLmdb::scan_prefix(std::string_view prefix, uint64_t* bytes) const {
  MDB_txn* txn = nullptr;
  TRELLIS_TRY(lmdb_status(mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn), "baseline begin"));
  MDB_cursor* cur = nullptr;
  int rc = mdb_cursor_open(txn, dbi_, &cur);
  if (rc != 0) {
    mdb_txn_abort(txn);
    return lmdb_status(rc, "baseline cursor");
  }
  size_t n = 0;
  MDB_val k = val(as_bytes(prefix)), v{};
  for (rc = mdb_cursor_get(cur, &k, &v, prefix.empty() ? MDB_FIRST : MDB_SET_RANGE); rc == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size < prefix.size() || std::memcmp(k.mv_data, prefix.data(), prefix.size()) != 0)
      break;
    ++n;
    *bytes += k.mv_size + v.mv_size;
    if (v.mv_size) *bytes += static_cast<const uint8_t*>(v.mv_data)[0];
  }
  mdb_cursor_close(cur);
  mdb_txn_abort(txn);
  if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_status(rc, "baseline scan");
  return n;
}

}  // namespace trellis::bench
