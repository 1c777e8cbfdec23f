#include "tools/sim/simulator.h"

#include <fmt/format.h>

#include <chrono>
#include <map>
#include <random>
#include <set>

namespace trellis::sim {

namespace {

// The workload's own generator, independent of the network's (which the
// Cluster seeds with the same seed).
uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

class Workload {
 public:
  Workload(const SimConfig& cfg, Cluster& cl)
      : cfg_(cfg), cl_(cl), rng_(splitmix64(cfg.seed)), mirrors_(cl.size()) {
    cl_.set_hook([this](size_t i, const Change& c) {
      if (c.value) {
        mirrors_[i][c.key] = *c.value;
      } else {
        mirrors_[i].erase(c.key);
      }
    });
  }

  uint64_t uniform(uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng_);
  }
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

  void run() {
    for (size_t op = 0; op < cfg_.ops && cl_.errors().empty(); ++op) {
      one_op();
      if (cfg_.faults) one_fault();
      cl_.run_for(uniform(0, 40));
    }
  }

  // Checks the converged state; returns what is wrong (empty if nothing).
  std::string check() {
    std::string diff = cl_.compare();
    if (!diff.empty()) return diff;
    auto final_map = cl_.map(0);
    if (!final_map) return "r0: cannot read its map: " + final_map.status().to_string();
    for (const auto& [k, v] : *final_map)
      if (!written_[k].count(v))
        return fmt::format("key \"{}\" holds \"{}\", which nobody wrote to it", k, short_hex(v));
    for (size_t i = 0; i < cl_.size(); ++i) {
      auto info = cl_.replica(i).info();
      if (!info) return cl_.name(i) + ": info failed: " + info.status().to_string();
      if (info->pending || info->ready || info->wants)
        return fmt::format("{}: quiet but {} pending, {} ready, {} wants", cl_.name(i),
                           info->pending, info->ready, info->wants);
      if (mirrors_[i] != *final_map) {
        std::string first;
        for (const auto& k : cl_.keys()) {
          auto a = mirrors_[i].find(k);
          auto b = final_map->find(k);
          bool ha = a != mirrors_[i].end(), hb = b != final_map->end();
          if (ha != hb || (ha && a->second != b->second)) {
            first = fmt::format("key \"{}\": hooks say {}, state is {}", k,
                                ha ? "\"" + short_hex(a->second) + "\"" : "<absent>",
                                hb ? "\"" + short_hex(b->second) + "\"" : "<absent>");
            break;
          }
        }
        return fmt::format("{}: replaying its hook events does not give its state; {}", cl_.name(i),
                           first);
      }
    }
    return "";
  }

 private:
  std::string key() { return fmt::format("k{:02}", uniform(0, cfg_.keys ? cfg_.keys - 1 : 0)); }

  Bytes value() {
    size_t len;
    uint64_t r = uniform(0, 99);
    if (r < 25) {
      len = uniform(0, 1);  // tiny values: equal writes from different replicas
    } else if (r < 90) {
      len = uniform(2, 24);
    } else if (r < 98) {
      len = uniform(100, 4000);
    } else {
      len = uniform(16 << 10, 160 << 10);  // makes the small LMDB map grow
    }
    Bytes v(len);
    for (auto& b : v) b = static_cast<uint8_t>(rng_() & (r < 25 ? 1 : 0xff));
    return v;
  }

  std::optional<size_t> up_replica() {
    std::vector<size_t> up;
    for (size_t i = 0; i < cl_.size(); ++i)
      if (cl_.up(i)) up.push_back(i);
    if (up.empty()) return std::nullopt;
    return up[uniform(0, up.size() - 1)];
  }

  static std::string outcome(const Result<Cid>& r) {
    if (!r) return "failed: " + r.status().to_string();
    return r->empty() ? "(no change)" : "-> " + short_cid(*r);
  }

  void trace(const std::string& line) {
    if (cfg_.trace) cfg_.trace(fmt::format("[{} ms] {}", cl_.now_ms(), line));
  }

  void do_put(size_t i, const std::string& k) { do_put(i, k, value()); }

  void do_put(size_t i, const std::string& k, const Bytes& v) {
    last_ = {i, k, v};
    written_[k].insert(v);
    auto r = cl_.put(i, k, v);
    trace(fmt::format("{} put {} = \"{}\" {}", cl_.name(i), k, short_hex(v), outcome(r)));
  }

  void do_remove(size_t i, const std::string& k) {
    last_ = {i, k, std::nullopt};
    auto r = cl_.remove(i, k);
    trace(fmt::format("{} remove {} {}", cl_.name(i), k, outcome(r)));
  }

  void one_op() {
    auto i = up_replica();
    if (!i) return;
    uint64_t r = uniform(0, 99);
    if (r < 8 && last_.key.size() && last_.replica != *i) {
      // The same change again through another replica (a client retrying
      // elsewhere): from the same heads it makes a byte-identical block.
      if (last_.value) {
        do_put(*i, std::string(last_.key), Bytes(*last_.value));
      } else {
        do_remove(*i, std::string(last_.key));
      }
    } else if (r < 50) {
      do_put(*i, key());
    } else if (r < 68) {
      do_remove(*i, key());
    } else if (r < 88) {
      Batch b;
      std::string line;
      for (size_t n = uniform(2, 6); n > 0; --n) {
        std::string k = key();
        cl_.note_key(k);
        if (chance(0.6)) {
          Bytes v = value();
          written_[k].insert(v);
          (void)b.put(k, v);
          line += fmt::format(" put {}=\"{}\"", k, short_hex(v));
        } else {
          (void)b.remove(k);
          line += " remove " + k;
        }
      }
      auto c = cl_.commit(*i, b);
      trace(fmt::format("{} batch{} {}", cl_.name(*i), line, outcome(c)));
    } else {
      // Several replicas write one key at the same virtual instant.
      std::string k = key();
      for (size_t n = uniform(2, std::max<size_t>(cl_.size(), 2)); n > 0; --n) {
        auto j = up_replica();
        if (!j) break;
        if (chance(0.8)) {
          do_put(*j, k);
        } else {
          do_remove(*j, k);
        }
      }
    }
  }

  void one_fault() {
    if (chance(0.03)) {
      if (auto i = up_replica()) {
        uint64_t down = uniform(20, 600);
        trace(fmt::format("{} crashes for {} ms", cl_.name(*i), down));
        cl_.crash(*i);
        cl_.reopen_later(*i, down);
        if (chance(0.3)) {
          // Fail again early after the restart, perhaps inside the reopen.
          uint64_t n = uniform(1, 12);
          cl_.fail_writes_after(*i, n);
          trace(fmt::format("{}: write #{} after its restart will fail", cl_.name(*i), n));
        }
      }
    }
    if (chance(0.02)) {
      if (auto i = up_replica()) {
        uint64_t n = uniform(1, 60);
        cl_.fail_writes_after(*i, n);
        trace(fmt::format("{}: write #{} from now will fail", cl_.name(*i), n));
      }
    }
    if (chance(0.03) && !cl_.partitioned() && cl_.size() > 1) {
      std::vector<std::vector<size_t>> groups(2);
      if (chance(0.3)) {
        // Isolate one replica.
        size_t lone = uniform(0, cl_.size() - 1);
        for (size_t i = 0; i < cl_.size(); ++i)
          if (i != lone) groups[0].push_back(i);
      } else {
        for (size_t i = 0; i < cl_.size(); ++i) groups[uniform(0, 1)].push_back(i);
        if (groups[0].empty() || groups[1].empty()) {
          // Everyone landed on one side: move one replica across.
          auto& full = groups[0].empty() ? groups[1] : groups[0];
          auto& empty = groups[0].empty() ? groups[0] : groups[1];
          size_t k = uniform(0, full.size() - 1);
          empty.push_back(full[k]);
          full.erase(full.begin() + static_cast<std::ptrdiff_t>(k));
        }
      }
      cl_.partition(groups);
      uint64_t len = uniform(100, 1500);
      cl_.at(len, [this] {
        cl_.heal();
        trace("partition healed");
      });
      std::string desc;
      for (const auto& g : groups) {
        desc += " {";
        for (size_t i : g) desc += " " + cl_.name(i);
        desc += " }";
      }
      trace(fmt::format("partition{} for {} ms", desc, len));
    }
  }

  struct LastOp {
    size_t replica = 0;
    std::string key;             // empty: none yet
    std::optional<Bytes> value;  // nullopt: a removal
  };

  const SimConfig& cfg_;
  Cluster& cl_;
  LastOp last_;
  std::mt19937_64 rng_;
  std::vector<std::map<std::string, Bytes>> mirrors_;  // replayed hook events
  std::map<std::string, std::set<Bytes>> written_;     // every value put, per key
};

}  // namespace

std::string summary(const SimReport& r) {
  return fmt::format(
      "{}: {} writes, {} messages ({} dropped, {} duplicated), {} crashes, {} failed writes, "
      "{} partitions, {} blocks, {} steps, {} virtual ms, map up to {} KiB, {:.3f} s",
      r.converged ? "converged" : "DIVERGED", r.writes, r.messages, r.dropped, r.duplicated,
      r.crashes, r.failed_writes, r.partitions, r.blocks, r.steps, r.virtual_ms,
      r.max_map_size >> 10, r.seconds);
}

Result<SimReport> run_simulation(const SimConfig& cfg) {
  auto started = std::chrono::steady_clock::now();
  std::mt19937_64 knobs(splitmix64(cfg.seed ^ 0x6b6e6f6273ULL));
  auto pick = [&](uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(knobs);
  };

  ClusterOptions co;
  co.replicas = std::max<size_t>(cfg.replicas, 1);
  co.seed = cfg.seed;
  co.dir = cfg.dir;
  co.keep = cfg.keep;
  co.replica.initial_map_size = cfg.initial_map_size;
  co.replica.sync = cfg.sync;
  // Small budgets make cascades span several transactions.
  co.replica.merge_budget = cfg.merge_budget ? cfg.merge_budget : pick(0, 1) ? 4096 : pick(1, 4);
  if (cfg.faults) {
    static constexpr double kDrops[] = {0, 0.02, 0.1, 0.3};
    static constexpr double kDups[] = {0, 0.05, 0.25};
    co.net = {1, pick(5, 150), kDrops[pick(0, 3)], kDups[pick(0, 2)]};
  } else {
    co.net = {1, 20, 0, 0};
  }
  auto created = Cluster::create(co);
  if (!created) return created.status();
  Cluster& cl = **created;

  Workload w(cfg, cl);
  if (cfg.trace) cl.set_trace(cfg.trace);
  if (cfg.trace)
    cfg.trace(
        fmt::format("seed {}: {} replicas in {}, merge budget {}, delay 1-{} ms, drop "
                    "{}, duplicate {}",
                    cfg.seed, cl.size(), cl.dir(), co.replica.merge_budget, co.net.max_delay_ms,
                    co.net.drop, co.net.duplicate));
  w.run();

  // Heal, stop the faults, bring everyone back, and wait for quiescence.
  cl.heal();
  cl.net() = {1, 20, 0, 0};
  for (size_t i = 0; i < cl.size(); ++i) {
    cl.fail_writes_after(i, 0);
    if (!cl.up(i)) (void)cl.reopen(i);
  }
  if (cfg.trace) cfg.trace(fmt::format("[{} ms] healed; running until quiet", cl.now_ms()));
  size_t max_steps = cfg.max_steps ? cfg.max_steps : 100'000 + 100 * cfg.ops * cl.size();
  bool quiet = cl.errors().empty() && cl.run_until_quiet(max_steps);

  SimReport rep;
  std::string problem;
  if (!cl.errors().empty()) {
    problem = "a replica call failed: " + cl.errors().front();
    if (cl.errors().size() > 1) problem += fmt::format(" (and {} more)", cl.errors().size() - 1);
  } else if (!quiet) {
    problem = fmt::format("not quiet after {} steps: {}", max_steps, cl.describe());
    if (std::string diff = cl.compare(); !diff.empty()) problem += "; " + diff;
  } else {
    problem = w.check();
  }
  rep.converged = problem.empty();
  if (!rep.converged)
    rep.detail =
        fmt::format("seed {} ({} replicas, {} ops): {}", cfg.seed, cl.size(), cfg.ops, problem);

  const ClusterStats& s = cl.stats();
  rep.messages = s.messages;
  rep.dropped = s.dropped;
  rep.duplicated = s.duplicated;
  rep.crashes = s.crashes;
  rep.partitions = s.partitions;
  rep.writes = s.local_writes;
  rep.failed_writes = s.failed_writes;
  rep.steps = s.steps;
  rep.virtual_ms = cl.now_ms();
  for (size_t i = 0; i < cl.size(); ++i) {
    if (!cl.up(i)) continue;
    rep.max_map_size = std::max(rep.max_map_size, cl.replica(i).store().map_size());
    if (auto info = cl.replica(i).info(); info) rep.blocks = std::max(rep.blocks, info->blocks);
  }
  created->reset();  // closes and removes the directories before timing
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return rep;
}

}  // namespace trellis::sim
