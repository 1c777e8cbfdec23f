#include "crdt/store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace trellis {

namespace {

MDB_val val(ByteView b) { return {b.size(), const_cast<uint8_t*>(b.data())}; }
ByteView view(const MDB_val& v) { return {static_cast<const uint8_t*>(v.mv_data), v.mv_size}; }

// Named databases and their flags, in the order of Dbs' members.
struct DbSpec {
  const char* name;
  unsigned flags;
  MDB_dbi Dbs::*member;
};
constexpr DbSpec kDbSpecs[] = {
    {"blocks", 0, &Dbs::blocks},   {"merged", 0, &Dbs::merged},
    {"heads", 0, &Dbs::heads},     {"elems", 0, &Dbs::elems},
    {"tombs", 0, &Dbs::tombs},     {"pending", 0, &Dbs::pending},
    {"waiters", MDB_DUPSORT, &Dbs::waiters},
    {"wants", 0, &Dbs::wants},     {"ready", 0, &Dbs::ready},
    {"staged", 0, &Dbs::staged},   {"meta", 0, &Dbs::meta},
};

constexpr std::string_view kFormatKey = "format";

}  // namespace

Status lmdb_status(int rc, const char* what) {
  if (rc == 0) return Status::ok();
  Code code = Code::io_error;
  if (rc == MDB_MAP_FULL) code = Code::too_large;
  if (rc == MDB_NOTFOUND) code = Code::not_found;
  if (rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_INVALID) code = Code::corrupt;
  if (rc == MDB_VERSION_MISMATCH) code = Code::unsupported;
  return {code, std::string(what) + ": " + mdb_strerror(rc)};
}

void put_u64be(Bytes& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

uint64_t get_u64be(ByteView in) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8 && i < in.size(); ++i) v = (v << 8) | in[i];
  return v;
}

// ---- Txn ----

std::optional<ByteView> Txn::get(MDB_dbi db, ByteView key) const {
  MDB_val k = val(key), v;
  if (mdb_get(txn_, db, &k, &v) != 0) return std::nullopt;
  return view(v);
}

Status Txn::check(int rc, const char* what) {
  if (rc == MDB_NOTFOUND) return Status::ok();
  if (rc == 0 && fail_write_ && *fail_write_ && (*fail_write_)())
    return Status(Code::io_error, std::string(what) + ": injected fault");
  if (rc == MDB_MAP_FULL) map_full_ = true;
  return lmdb_status(rc, what);
}

Status Txn::put(MDB_dbi db, ByteView key, ByteView value) {
  MDB_val k = val(key), v = val(value);
  return check(mdb_put(txn_, db, &k, &v, 0), "lmdb put");
}

Status Txn::del(MDB_dbi db, ByteView key) {
  MDB_val k = val(key);
  return check(mdb_del(txn_, db, &k, nullptr), "lmdb del");
}

Status Txn::del_dup(MDB_dbi db, ByteView key, ByteView value) {
  MDB_val k = val(key), v = val(value);
  return check(mdb_del(txn_, db, &k, &v), "lmdb del");
}

size_t Txn::count(MDB_dbi db) const {
  MDB_stat st;
  if (mdb_stat(txn_, db, &st) != 0) return 0;
  return st.ms_entries;
}

// ---- Cursor ----

Cursor::Cursor(const Txn& txn, MDB_dbi db) {
  if (mdb_cursor_open(txn.raw(), db, &cur_) != 0) cur_ = nullptr;
}

Cursor::~Cursor() {
  if (cur_) mdb_cursor_close(cur_);
}

bool Cursor::step(MDB_cursor_op op, ByteView key) {
  if (!cur_) return valid_ = false;
  if (op == MDB_SET_RANGE) k_ = val(key);
  valid_ = mdb_cursor_get(cur_, &k_, &v_, op) == 0;
  return valid_;
}

bool Cursor::first() { return step(MDB_FIRST); }
bool Cursor::seek(ByteView key) { return key.empty() ? first() : step(MDB_SET_RANGE, key); }
bool Cursor::next() { return step(MDB_NEXT); }
bool Cursor::next_dup() { return step(MDB_NEXT_DUP); }
ByteView Cursor::key() const { return view(k_); }
ByteView Cursor::value() const { return view(v_); }

// ---- Store ----

Result<std::unique_ptr<Store>> Store::open(const std::string& dir, const StoreOptions& opts) {
  std::unique_ptr<Store> s(new Store());
  s->dir_ = dir;
  s->read_only_ = opts.read_only;
  if (!opts.read_only) {
    if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
      return Status(Code::io_error, "cannot create store directory " + dir + ": " + strerror(errno));
    std::string lock = dir + "/writer.lock";
    s->lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd_ < 0)
      return Status(Code::io_error, "cannot open " + lock + ": " + strerror(errno));
    if (flock(s->lock_fd_, LOCK_EX | LOCK_NB) != 0)
      return Status(Code::busy, "store " + dir +
                                    " is already open for writing by another process; stop it "
                                    "or open the store read-only");
  } else if (access((dir + "/data.mdb").c_str(), R_OK) != 0) {
    return Status(Code::not_found, "no store at " + dir + " (data.mdb missing)");
  }

  TRELLIS_TRY(lmdb_status(mdb_env_create(&s->env_), "lmdb env create"));
  TRELLIS_TRY(lmdb_status(mdb_env_set_maxdbs(s->env_, 16), "lmdb set maxdbs"));
  if (!opts.read_only)
    TRELLIS_TRY(lmdb_status(mdb_env_set_mapsize(s->env_, opts.initial_map_size), "lmdb mapsize"));
  s->fail_write_ = opts.fail_write;
  unsigned flags = MDB_NOTLS | (opts.read_only ? MDB_RDONLY : 0u) | (opts.sync ? 0u : MDB_NOSYNC);
  int rc = mdb_env_open(s->env_, dir.c_str(), flags, 0600);
  if (rc != 0) return lmdb_status(rc, ("cannot open store " + dir).c_str());

  // Free reader slots left by killed readers (e.g. a trellis-dag under
  // kill -9), which would otherwise stop the writer reusing old pages.
  if (!opts.read_only) {
    int dead = 0;
    mdb_reader_check(s->env_, &dead);
  }
  MDB_txn* txn = nullptr;
  TRELLIS_TRY(lmdb_status(mdb_txn_begin(s->env_, nullptr, opts.read_only ? MDB_RDONLY : 0, &txn),
                          "lmdb begin"));
  for (const auto& spec : kDbSpecs) {
    rc = mdb_dbi_open(txn, spec.name, spec.flags | (opts.read_only ? 0u : MDB_CREATE),
                      &(s->dbs_.*spec.member));
    if (rc != 0) {
      mdb_txn_abort(txn);
      return lmdb_status(rc, (std::string("cannot open database ") + spec.name).c_str());
    }
  }
  Txn t(txn);
  auto fmt = t.get(s->dbs_.meta, as_bytes(kFormatKey));
  if (!fmt && !opts.read_only) {
    Bytes v;
    put_u64be(v, kStoreFormat);
    Status st = t.put(s->dbs_.meta, as_bytes(kFormatKey), v);
    if (!st) {
      mdb_txn_abort(txn);
      return st;
    }
  } else if (fmt && get_u64be(*fmt) != kStoreFormat) {
    mdb_txn_abort(txn);
    return Status(Code::unsupported, "store " + dir + " has format " +
                                         std::to_string(get_u64be(*fmt)) + ", this build reads " +
                                         std::to_string(kStoreFormat));
  }
  // Committing (also a read-only transaction) keeps the database handles open.
  TRELLIS_TRY(lmdb_status(mdb_txn_commit(txn), "lmdb commit"));
  return s;
}

Store::~Store() {
  if (env_) mdb_env_close(env_);
  if (lock_fd_ >= 0) close(lock_fd_);
}

Status Store::sync() {
  int rc = mdb_env_sync(env_, 1);
  return rc == 0 ? Status::ok() : lmdb_status(rc, "mdb_env_sync");
}

size_t Store::map_size() const {
  MDB_envinfo info;
  mdb_env_info(env_, &info);
  return info.me_mapsize;
}

Status Store::grow() {
  size_t next = map_size() * 2;
  return lmdb_status(mdb_env_set_mapsize(env_, next), "lmdb grow map");
}

Status Store::grow_ahead() {
  MDB_envinfo info;
  MDB_stat st;
  mdb_env_info(env_, &info);
  mdb_env_stat(env_, &st);
  size_t used = (info.me_last_pgno + 1) * size_t{st.ms_psize};
  // Growing before a transaction is cheap; growing after one fills the map
  // means running it again.
  if (used * 2 > info.me_mapsize) return grow();
  return Status::ok();
}

Status Store::write(const std::function<Status(Txn&)>& fn) {
  if (read_only_) return Status(Code::invalid_argument, "store " + dir_ + " is open read-only");
  TRELLIS_TRY(grow_ahead());
  for (;;) {
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
    if (rc == MDB_MAP_RESIZED) {
      TRELLIS_TRY(lmdb_status(mdb_env_set_mapsize(env_, 0), "lmdb adopt map size"));
      continue;
    }
    TRELLIS_TRY(lmdb_status(rc, "lmdb begin write"));
    Txn t(txn, &fail_write_);
    Status st = fn(t);
    if (st.is_ok()) {
      rc = mdb_txn_commit(txn);
      if (rc == 0) return Status::ok();
      if (rc != MDB_MAP_FULL) return lmdb_status(rc, "lmdb commit");
    } else {
      mdb_txn_abort(txn);
      if (!t.map_full()) return st;
    }
    TRELLIS_TRY(grow());
  }
}

Status Store::read(const std::function<Status(const Txn&)>& fn) const {
  for (;;) {
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
    if (rc == MDB_MAP_RESIZED) {
      // Another process grew the map: adopt its size and retry.
      TRELLIS_TRY(lmdb_status(mdb_env_set_mapsize(env_, 0), "lmdb adopt map size"));
      continue;
    }
    TRELLIS_TRY(lmdb_status(rc, "lmdb begin read"));
    Status st = fn(Txn(txn));
    mdb_txn_abort(txn);
    return st;
  }
}

}  // namespace trellis
