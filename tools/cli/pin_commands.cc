// pin add | update | rm | ls, and --wait: polling GET /pins/{cid} until the
// pin settles, with a one-line progress display.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <thread>

#include "tools/cli/cli.h"
#include "tools/cli/commands.h"
#include "tools/cli/print.h"

namespace trellis::cli {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kPollInterval = std::chrono::milliseconds(500);

std::string pin_path(const std::string& cid) {
  return "/pins/" + url_encode(cid);
}

// The pin options of add/update as IPFS Cluster's query parameters.
Query pin_query(const Parsed& a) {
  Query q;
  if (auto name = a.get("name")) q.add("name", *name);
  auto both = a.get("replication");
  auto min = a.get("replication-min"), max = a.get("replication-max");
  if (both && (min || max))
    fail(kUsage, "give either --replication or --replication-min/--replication-max, not both");
  if (both) {
    std::string n = std::to_string(parse_int(*both, "--replication", true));
    q.add("replication-min", n).add("replication-max", n);
  }
  if (min) q.add("replication-min", std::to_string(parse_int(*min, "--replication-min", true)));
  if (max) q.add("replication-max", std::to_string(parse_int(*max, "--replication-max", true)));
  if (auto allocs = a.get("allocations")) {
    auto peers = split(*allocs, ',');
    if (peers.empty()) fail(kUsage, "--allocations: expected PEER[,PEER...]");
    std::string joined;
    for (const auto& p : peers) joined += (joined.empty() ? "" : ",") + p;
    q.add("user-allocations", joined);
  }
  if (auto exp = a.get("expire-in")) {
    parse_duration(*exp, "--expire-in");  // rejects typos here; the peer parses it again
    q.add("expire-in", *exp);
  }
  for (const auto& kv : a.all("metadata")) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      fail(kUsage, "--metadata: expected KEY=VALUE, got \"" + kv + "\"");
    q.add("meta-" + kv.substr(0, eq), kv.substr(eq + 1));
  }
  if (auto mode = a.get("mode")) {
    if (*mode != "recursive" && *mode != "direct")
      fail(kUsage, "--mode: expected recursive or direct, got \"" + *mode + "\"");
    q.add("mode", *mode);
  }
  return q;
}

// One line rewritten in place on a terminal (\r), else printed whenever it
// changes. In --json mode it goes to stderr, and only to a terminal, so
// stdout stays pure JSON.
class Progress {
 public:
  explicit Progress(bool json_output)
      : out_(json_output ? stderr : stdout),
        tty_(isatty(fileno(out_)) != 0),
        enabled_(!json_output || tty_) {
    std::cout.flush();
  }
  ~Progress() { finish(); }

  void show(const std::string& line) {
    if (!enabled_ || line == last_) return;
    last_ = line;
    if (tty_)
      std::fprintf(out_, "\r%s\x1b[K", line.c_str());
    else
      std::fprintf(out_, "%s\n", line.c_str());
    std::fflush(out_);
  }
  void finish() {
    if (enabled_ && tty_ && !last_.empty()) std::fputc('\n', out_);
    std::fflush(out_);
    last_.clear();
  }

 private:
  std::FILE* out_;
  bool tty_;
  bool enabled_;
  std::string last_;
};

std::vector<std::string> string_list(const json& j, const char* key) {
  std::vector<std::string> out;
  if (j.is_object() && j.contains(key) && j[key].is_array())
    for (const auto& v : j[key])
      if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

std::string peer_label(const json& peer_map, const std::string& pid) {
  if (peer_map.contains(pid)) {
    std::string name = peer_map[pid].value("peername", "");
    if (!name.empty()) return name;
  }
  return short_id(pid);
}

std::string describe_wait(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

struct Tally {
  size_t done = 0, total = 0;
  std::string others;   // "pinning on a, b; pin_queued on c"
  std::string failure;  // first error, "" if none
};

// Polls until check() reports all done; throws kWaitFailed on a failure or
// at the deadline (timeout 0 = none). Returns the last status.
json poll(Context& cx, const std::string& cid, std::chrono::milliseconds timeout,
          const std::string& verb, const std::function<Tally(const json&)>& check) {
  Progress progress(cx.json_output);
  const auto deadline = timeout.count() > 0 ? Clock::now() + timeout : Clock::time_point::max();
  for (;;) {
    json gpi = call_json(cx, "GET", pin_path(cid));
    Tally t = check(gpi);
    std::string line = verb + " " + cid + ": " + std::to_string(t.done) + "/" +
                       std::to_string(t.total) + " " + (verb == "pinning" ? "pinned" : "unpinned") +
                       (t.others.empty() ? "" : " (" + t.others + ")");
    progress.show(line);
    if (!t.failure.empty()) {
      progress.finish();
      fail(kWaitFailed, verb + " " + cid + " failed: " + t.failure);
    }
    if (t.total > 0 && t.done == t.total) return gpi;
    auto now = Clock::now();
    if (now >= deadline) {
      progress.finish();
      fail(kWaitFailed, "timed out after " + describe_wait(timeout) + " waiting: " + line);
    }
    std::this_thread::sleep_for(std::min<Clock::duration>(kPollInterval, deadline - now));
  }
}

// Pinned on every allocated peer (every peer when allocations are []).
json wait_pinned(Context& cx, const std::string& cid, const std::vector<std::string>& allocs0,
                 std::chrono::milliseconds timeout) {
  return poll(cx, cid, timeout, "pinning", [&](const json& gpi) {
    const json peers =
        gpi.contains("peer_map") && gpi["peer_map"].is_object() ? gpi["peer_map"] : json::object();
    std::vector<std::string> allocs = string_list(gpi, "allocations");
    if (allocs.empty()) allocs = allocs0;
    if (allocs.empty())
      for (const auto& [pid, _] : peers.items()) allocs.push_back(pid);
    Tally t;
    t.total = allocs.size();
    std::map<std::string, std::string> by_status;
    for (const auto& pid : allocs) {
      std::string s = peers.contains(pid) ? peers[pid].value("status", "") : "unknown";
      if (s == "pinned") {
        ++t.done;
        continue;
      }
      auto& names = by_status[s];
      names += (names.empty() ? "" : ", ") + peer_label(peers, pid);
      if (s.ends_with("_error") && t.failure.empty()) {
        std::string err = peers[pid].value("error", "");
        t.failure = peer_label(peers, pid) + " reports " + s + (err.empty() ? "" : ": " + err);
      }
    }
    for (const auto& [s, names] : by_status)
      t.others += (t.others.empty() ? "" : "; ") + s + " on " + names;
    return t;
  });
}

// No peer still has it pinned or is unpinning it.
json wait_unpinned(Context& cx, const std::string& cid, std::chrono::milliseconds timeout) {
  return poll(cx, cid, timeout, "unpinning", [&](const json& gpi) {
    Tally t;
    if (!gpi.contains("peer_map") || !gpi["peer_map"].is_object()) return t;
    const json& peers = gpi["peer_map"];
    std::map<std::string, std::string> by_status;
    for (const auto& [pid, info] : peers.items()) {
      ++t.total;
      std::string s = info.value("status", "");
      if (s == "unpin_error" && t.failure.empty()) {
        std::string err = info.value("error", "");
        t.failure =
            peer_label(peers, pid) + " reports unpin_error" + (err.empty() ? "" : ": " + err);
      }
      if (s == "pinned" || s == "unpinning" || s == "unpin_queued" || s == "unpin_error") {
        auto& names = by_status[s];
        names += (names.empty() ? "" : ", ") + peer_label(peers, pid);
      } else {
        ++t.done;
      }
    }
    for (const auto& [s, names] : by_status)
      t.others += (t.others.empty() ? "" : "; ") + s + " on " + names;
    if (t.total == 0) t.total = t.done = 1;  // no peer knows it: nothing to wait for
    return t;
  });
}

std::chrono::milliseconds wait_timeout(const Parsed& a) {
  auto t = a.get("wait-timeout");
  if (t && !a.has("wait")) fail(kUsage, "--wait-timeout needs --wait");
  return t ? parse_duration(*t, "--wait-timeout") : std::chrono::milliseconds(0);
}

void show_status(Context& cx, const json& gpi) {
  if (cx.json_output)
    print_line(gpi.dump());
  else
    std::cout << format_status(gpi) << std::flush;
}

int pin_and_wait(Context& cx, const std::string& cid, Query q) {
  auto timeout = wait_timeout(cx.args);
  std::string raw;
  json pin = call_json(cx, "POST", pin_path(cid) + q.str(), &raw);
  cx.json_output ? print_line(raw) : void(std::cout << format_pin(pin) << std::flush);
  if (cx.args.has("wait"))
    show_status(cx,
                wait_pinned(cx, pin.value("cid", cid), string_list(pin, "allocations"), timeout));
  return kOk;
}

}  // namespace

int cmd_pin_add(Context& cx) {
  return pin_and_wait(cx, cx.args.positional.at(0), pin_query(cx.args));
}

int cmd_pin_update(Context& cx) {
  Query q = pin_query(cx.args);
  q.add("pin-update", cx.args.positional.at(0));
  return pin_and_wait(cx, cx.args.positional.at(1), q);
}

int cmd_pin_rm(Context& cx) {
  auto timeout = wait_timeout(cx.args);
  const std::string& cid = cx.args.positional.at(0);
  std::string raw;
  json pin = call_json(cx, "DELETE", pin_path(cid), &raw);
  cx.json_output ? print_line(raw)
                 : void(std::cout << "unpinning " << pin.value("cid", cid) << "\n"
                                  << std::flush);
  if (cx.args.has("wait")) show_status(cx, wait_unpinned(cx, pin.value("cid", cid), timeout));
  return kOk;
}

int cmd_pin_ls(Context& cx) {
  auto show = [&](const json& pin, std::string_view raw) {
    cx.json_output ? print_line(raw) : void(std::cout << format_pin(pin) << std::flush);
  };
  if (!cx.args.positional.empty()) {
    for (const auto& cid : cx.args.positional) {
      std::string raw;
      json pin = call_json(cx, "GET", "/allocations/" + url_encode(cid), &raw);
      show(pin, raw);
    }
    return kOk;
  }
  Query q;
  q.add("filter", cx.args.get("filter").value_or("pin"));
  call_list(cx, "GET", "/allocations" + q.str(), show);
  return kOk;
}

}  // namespace trellis::cli
