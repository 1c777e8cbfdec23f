#include "tools/dag/scratch.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "crdt/store.h"

namespace trellis::dag {

namespace {

// Writes per transaction: bounds the dirty pages LMDB holds in memory.
constexpr uint64_t kWritesPerCommit = 8192;
// Address space reserved for the scratch map (the file grows as needed).
constexpr size_t kScratchMapSize = size_t{1} << 38;
constexpr size_t kMinScratchMapSize = size_t{1} << 30;

MDB_val val(ByteView b) {
  return {b.size(), const_cast<uint8_t*>(b.data())};
}
ByteView view(const MDB_val& v) {
  return {static_cast<const uint8_t*>(v.mv_data), v.mv_size};
}

Bytes seq_key(uint64_t n) {
  Bytes k;
  put_u64be(k, n);
  return k;
}

}  // namespace

Result<std::string> make_temp_dir(const std::string& prefix) {
  std::error_code ec;
  std::filesystem::path base = std::filesystem::temp_directory_path(ec);
  if (ec) base = "/tmp";
  std::string tmpl = (base / (prefix + "-XXXXXX")).string();
  if (!mkdtemp(tmpl.data()))
    return Status(Code::io_error, "cannot create a temporary directory in " + base.string() + ": " +
                                      std::strerror(errno) +
                                      " (set TMPDIR to a writable directory)");
  return tmpl;
}

void remove_temp_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

Result<std::unique_ptr<ScratchDb>> ScratchDb::create() {
  std::unique_ptr<ScratchDb> s(new ScratchDb());
  auto dir = make_temp_dir("trellis-dag");
  if (!dir) return dir.status();
  s->dir_ = *dir;
  // Reserve a large map, less when the address space is limited (ulimit -v).
  int rc = 0;
  for (size_t map_size = kScratchMapSize; map_size >= kMinScratchMapSize; map_size >>= 4) {
    TRELLIS_TRY(lmdb_status(mdb_env_create(&s->env_), "scratch env create"));
    TRELLIS_TRY(lmdb_status(mdb_env_set_maxdbs(s->env_, 2), "scratch set maxdbs"));
    TRELLIS_TRY(lmdb_status(mdb_env_set_mapsize(s->env_, map_size), "scratch mapsize"));
    // Private to this process and thrown away: no locking, no syncing.
    rc = mdb_env_open(s->env_, s->dir_.c_str(),
                      MDB_NOLOCK | MDB_NOSYNC | MDB_NOMETASYNC | MDB_NOTLS, 0600);
    if (rc == 0) break;
    mdb_env_close(s->env_);
    s->env_ = nullptr;
  }
  TRELLIS_TRY(lmdb_status(rc, ("cannot open a scratch database in " + s->dir_).c_str()));
  TRELLIS_TRY(lmdb_status(mdb_txn_begin(s->env_, nullptr, 0, &s->txn_), "scratch begin"));
  TRELLIS_TRY(lmdb_status(mdb_dbi_open(s->txn_, "set", MDB_CREATE, &s->set_), "scratch open set"));
  TRELLIS_TRY(
      lmdb_status(mdb_dbi_open(s->txn_, "queue", MDB_CREATE, &s->queue_), "scratch open queue"));
  return s;
}

ScratchDb::~ScratchDb() {
  if (txn_) mdb_txn_abort(txn_);
  if (env_) mdb_env_close(env_);
  if (!dir_.empty()) remove_temp_dir(dir_);
}

Status ScratchDb::wrote() {
  if (++writes_ % kWritesPerCommit != 0) return Status::ok();
  int rc = mdb_txn_commit(txn_);
  txn_ = nullptr;
  TRELLIS_TRY(lmdb_status(rc, "scratch commit"));
  return lmdb_status(mdb_txn_begin(env_, nullptr, 0, &txn_), "scratch begin");
}

Result<bool> ScratchDb::insert(ByteView key) {
  if (key.empty() || key.size() > 511) return invalid("scratch key must be 1..511 bytes");
  MDB_val k = val(key), v{0, nullptr};
  int rc = mdb_put(txn_, set_, &k, &v, MDB_NOOVERWRITE);
  if (rc == MDB_KEYEXIST) return false;
  TRELLIS_TRY(lmdb_status(rc, "scratch put"));
  ++set_size_;
  TRELLIS_TRY(wrote());
  return true;
}

bool ScratchDb::contains(ByteView key) const {
  if (key.empty() || key.size() > 511) return false;
  MDB_val k = val(key), v;
  return mdb_get(txn_, set_, &k, &v) == 0;
}

Status ScratchDb::for_each(const std::function<bool(ByteView)>& fn) const {
  MDB_cursor* cur = nullptr;
  TRELLIS_TRY(lmdb_status(mdb_cursor_open(txn_, set_, &cur), "scratch cursor"));
  MDB_val k, v;
  for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
    if (!fn(view(k))) break;
  mdb_cursor_close(cur);
  return Status::ok();
}

Status ScratchDb::push(ByteView item) {
  Bytes key = seq_key(tail_);
  MDB_val k = val(key), v = val(item);
  TRELLIS_TRY(lmdb_status(mdb_put(txn_, queue_, &k, &v, MDB_APPEND), "scratch queue put"));
  ++tail_;
  return wrote();
}

Result<std::optional<Bytes>> ScratchDb::pop() {
  if (head_ == tail_) return std::optional<Bytes>();
  Bytes key = seq_key(head_);
  MDB_val k = val(key), v;
  TRELLIS_TRY(lmdb_status(mdb_get(txn_, queue_, &k, &v), "scratch queue get"));
  Bytes item(view(v).begin(), view(v).end());
  TRELLIS_TRY(lmdb_status(mdb_del(txn_, queue_, &k, nullptr), "scratch queue del"));
  ++head_;
  TRELLIS_TRY(wrote());
  return std::optional<Bytes>(std::move(item));
}

}  // namespace trellis::dag
