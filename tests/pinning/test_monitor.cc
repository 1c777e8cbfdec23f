// Metrics codec and the peer monitor on synthetic arrival times.
#include <doctest/doctest.h>

#include "pinning/monitor.h"

using namespace trellis;
using namespace trellis::pinning;
using namespace std::chrono_literals;

namespace {

const Monitor::Clock::time_point t0{std::chrono::hours(1)};

std::vector<Metric> beat(uint64_t freespace, uint64_t ttl_ms = 10'000) {
  return {{"ping", "", ttl_ms},
          {"freespace", std::to_string(freespace), ttl_ms},
          {"tag:group", "eu", ttl_ms},
          {"pinqueue", "3", ttl_ms}};
}

}  // namespace

TEST_CASE("metrics round-trip and bad metrics are refused") {
  auto m = beat(42);
  auto back = decode_metrics(encode_metrics(m));
  REQUIRE(back.is_ok());
  CHECK(*back == m);
  std::vector<Metric> zero_ttl{{"ping", "", 0}};
  CHECK_FALSE(decode_metrics(encode_metrics(zero_ttl)).is_ok());
  std::vector<Metric> long_name{{std::string(kMaxMetricName + 1, 'x'), "", 10}};
  CHECK_FALSE(decode_metrics(encode_metrics(long_name)).is_ok());
  std::vector<Metric> many(kMaxMetrics + 1, Metric{"ping", "", 10});
  CHECK_FALSE(decode_metrics(encode_metrics(many)).is_ok());
  Bytes enc = encode_metrics(m);
  for (size_t n = 0; n < enc.size(); n++) CHECK_FALSE(decode_metrics(ByteView(enc.data(), n)).is_ok());
}

TEST_CASE("a peer pinging every 5 s is alive; silent, it goes down and reports how long") {
  MonitorOptions opts;
  opts.phi.first_interval = 5s;
  Monitor mon(opts);
  CHECK_FALSE(mon.alive("a", t0));  // never heard from
  for (int i = 0; i < 20; i++) mon.on_metrics("a", beat(100), t0 + i * 5s);
  auto last = t0 + 95s;
  CHECK(mon.alive("a", last + 5s));
  CHECK_FALSE(mon.down_for("a", last + 5s).has_value());
  // Suspected some seconds after the missed ping (phi crosses 8).
  CHECK(mon.alive("a", last + 7s));
  CHECK_FALSE(mon.alive("a", last + 12s));
  auto down = mon.down_for("a", last + 30s);
  REQUIRE(down.has_value());
  CHECK(*down == 30s);
  // It comes back.
  mon.on_metrics("a", beat(100), last + 31s);
  CHECK(mon.alive("a", last + 31s));
}

TEST_CASE("candidates are alive peers with a fresh freespace, with their tags and queue") {
  MonitorOptions opts;
  opts.phi.first_interval = 1s;
  Monitor mon(opts);
  for (int i = 0; i < 5; i++) {
    mon.on_metrics("a", beat(100), t0 + i * 1s);
    mon.on_metrics("b", beat(200), t0 + i * 1s);
  }
  // c pings but publishes no freespace (no IPFS): not a candidate.
  std::vector<Metric> ping_only{{"ping", "", 10'000}};
  for (int i = 0; i < 5; i++) mon.on_metrics("c", ping_only, t0 + i * 1s);
  auto c = mon.candidates(t0 + 5s);
  REQUIRE(c.size() == 2);
  CHECK(c[0].peer == "a");
  CHECK(c[0].freespace == 100);
  CHECK(c[0].tags.at("group") == "eu");
  CHECK(c[0].pinqueue == 3);
  CHECK(c[1].freespace == 200);
  // Much later, all are down.
  CHECK(mon.candidates(t0 + 10min).empty());
  CHECK(mon.latest("freespace", t0 + 5s).size() == 2);
  CHECK(mon.history("a", "freespace").size() == 5);
  for (int i = 5; i < 30; i++) mon.on_metrics("a", beat(100), t0 + i * 1s);
  CHECK(mon.history("a", "freespace").size() == kWindow);
  CHECK(mon.peers().size() == 3);
}

TEST_CASE("the monitor holds at most kMaxMonitoredPeers, forgetting the one heard from longest ago") {
  Monitor mon;
  std::vector<Metric> ping{{"ping", "", 10'000}};
  for (size_t i = 0; i <= kMaxMonitoredPeers; i++)
    mon.on_metrics("p" + std::to_string(i), ping, t0 + std::chrono::milliseconds(i));
  CHECK(mon.peers().size() == kMaxMonitoredPeers);
  CHECK_FALSE(mon.known("p0"));
  CHECK(mon.known("p1"));
  CHECK(mon.known("p" + std::to_string(kMaxMonitoredPeers)));
}
