#include "harness.h"

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#ifndef TRELLIS_DAG_BIN
#error "TRELLIS_DAG_BIN must name the trellis-dag binary"
#endif

namespace trellis::dagtest {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "trellis-dag-test-XXXXXX").string();
  REQUIRE(mkdtemp(tmpl.data()) != nullptr);
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out.push_back(c);
  }
  return out + "'";
}

Run shell(const std::string& command) {
  TempDir tmp;
  std::string err_path = tmp.sub("stderr");
  std::string full = "(" + command + ") 2>" + shell_quote(err_path) + " </dev/null";
  Run run;
  FILE* p = popen(full.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) run.out.append(buf, n);
  int status = pclose(p);
  run.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::ifstream err(err_path, std::ios::binary);
  std::ostringstream ss;
  ss << err.rdbuf();
  run.err = ss.str();
  return run;
}

std::string describe(const Run& r) {
  return "stdout:\n" + r.out + "\nstderr:\n" + r.err;
}

Run dag(const std::vector<std::string>& args) {
  std::string cmd = shell_quote(TRELLIS_DAG_BIN);
  for (const auto& a : args) cmd += " " + shell_quote(a);
  return shell(cmd);
}

std::unique_ptr<Replica> open_replica(const std::string& dir) {
  ReplicaOptions opts;
  opts.sync = false;
  auto r = Replica::open(dir, opts);
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  return std::move(*r);
}

Bytes val(std::string_view s) {
  return Bytes(s.begin(), s.end());
}

namespace {

Bytes block_bytes(const Replica& r, const Cid& cid) {
  Bytes out;
  REQUIRE(r.store()
              .read([&](const Txn& t) {
                auto v = t.get(r.store().dbs().blocks, cid.view());
                REQUIRE(v);
                out.assign(v->begin(), v->end());
                return Status::ok();
              })
              .is_ok());
  return out;
}

}  // namespace

void sync(Replica& src, Replica& dst) {
  auto heads = src.heads();
  REQUIRE(heads.is_ok());
  auto wants = dst.on_heads("src", *heads);
  REQUIRE(wants.is_ok());
  std::vector<Want> todo = *wants;
  while (!todo.empty()) {
    Want w = todo.back();
    todo.pop_back();
    auto r = dst.on_block(w.cid, block_bytes(src, w.cid));
    REQUIRE(r.is_ok());
    REQUIRE(r->rejected.empty());
    for (auto& n : r->wants) todo.push_back(n);
  }
}

std::map<std::string, std::string> contents(const Replica& r) {
  std::map<std::string, std::string> out;
  REQUIRE(r.scan("", [&](std::string_view k, ByteView v) {
             out.emplace(k, as_chars(v));
             return true;
           }).is_ok());
  return out;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::set<std::string> stored_blocks(const Replica& r) {
  std::set<std::string> out;
  REQUIRE(r.store()
              .read([&](const Txn& t) {
                Cursor c(t, r.store().dbs().blocks);
                for (bool ok = c.first(); ok; ok = c.next()) {
                  auto cid = Cid::from_bytes(c.key());
                  REQUIRE(cid.is_ok());
                  out.insert(cid->to_string());
                }
                return Status::ok();
              })
              .is_ok());
  return out;
}

Built build_store(const std::string& dir, const std::string& peer_dir) {
  auto a = open_replica(dir);
  auto b = open_replica(peer_dir);
  REQUIRE(a->put("alpha", val("1")).is_ok());
  REQUIRE(a->put("beta", val("2")).is_ok());
  const uint8_t binary[] = {0, 1, 2, 0xff, '\n'};
  REQUIRE(a->put("gamma", ByteView(binary)).is_ok());
  Batch batch;
  REQUIRE(batch.put("dir/x", val("x")).is_ok());
  REQUIRE(batch.put("dir/y", val("y")).is_ok());
  REQUIRE(a->commit(batch).is_ok());
  REQUIRE(b->put("beta", val("B")).is_ok());
  REQUIRE(b->put("delta", val("4")).is_ok());
  REQUIRE(b->put("long", val(std::string(200, 'L'))).is_ok());
  sync(*b, *a);
  sync(*a, *b);
  REQUIRE(a->remove("alpha").is_ok());
  REQUIRE(a->put("dir/z", val("z")).is_ok());
  REQUIRE(b->put("epsilon", val("5")).is_ok());
  REQUIRE(b->remove("delta").is_ok());
  sync(*b, *a);

  Built out;
  out.keys = contents(*a);
  auto heads = a->heads();
  REQUIRE(heads.is_ok());
  out.heads = *heads;
  auto info = a->info();
  REQUIRE(info.is_ok());
  out.merged = info->merged;
  REQUIRE(info->pending == 0);
  REQUIRE(out.heads.size() == 2);
  return out;
}

Cid interior_block(Replica& r) {
  auto heads = r.heads();
  REQUIRE(heads.is_ok());
  REQUIRE(!heads->empty());
  Cid found;
  REQUIRE(r.store()
              .read([&](const Txn& t) {
                auto bytes = t.get(r.store().dbs().blocks, (*heads)[0].view());
                REQUIRE(bytes);
                auto block = decode_block(*bytes);
                REQUIRE(block.is_ok());
                REQUIRE(!block->links.empty());
                found = block->links[0];
                return Status::ok();
              })
              .is_ok());
  return found;
}

}  // namespace trellis::dagtest
