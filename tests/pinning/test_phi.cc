// PhiDetector: φ against theory on synthetic heartbeat times (no clocks).
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>

#include "pinning/phi.h"

using namespace trellis::pinning;
using namespace std::chrono_literals;
using Clock = PhiDetector::Clock;

namespace {

// Synthetic time: T0 plus a number of milliseconds.
const Clock::time_point T0 = Clock::time_point{} + 1000h;
Clock::time_point at(double ms) {
  return T0 +
         std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::milli>(ms));
}

// Heartbeats every `interval` ms from `start`; returns the last one's time.
double beat(PhiDetector& d, double start, double interval, int count) {
  double t = start;
  for (int i = 0; i < count; ++i, t += interval) REQUIRE(d.heartbeat(at(t)));
  return t - interval;
}

// The first whole millisecond after `last` at which φ reaches `threshold`.
double crossing_ms(const PhiDetector& d, double last, double threshold) {
  for (double ms = 0; ms < 1e6; ms += 1)
    if (!d.available(at(last + ms), threshold)) return ms;
  return -1;
}

}  // namespace

TEST_CASE("phi_normal matches the normal tail") {
  // -log10 Q(y) for textbook values of Q.
  CHECK(phi_normal(0, 0, 1) == doctest::Approx(-std::log10(0.5)));
  CHECK(phi_normal(1, 0, 1) == doctest::Approx(-std::log10(0.158655254)).epsilon(1e-8));
  CHECK(phi_normal(2, 0, 1) == doctest::Approx(-std::log10(0.022750132)).epsilon(1e-8));
  CHECK(phi_normal(3, 0, 1) == doctest::Approx(-std::log10(0.001349898)).epsilon(1e-7));
  // Scale and shift: 1500 ms against mean 1000, σ 500 is one σ.
  CHECK(phi_normal(1500, 1000, 500) == doctest::Approx(phi_normal(1, 0, 1)));
  // Q(y) = 1e-8 at y ≈ 5.6120 (the standard table value).
  CHECK(phi_to_sigmas(8) == doctest::Approx(5.6120).epsilon(1e-4));
  CHECK(phi_normal(phi_to_sigmas(8), 0, 1) == doctest::Approx(8).epsilon(1e-9));
  CHECK(phi_to_sigmas(3) == doctest::Approx(3.0902).epsilon(1e-4));
}

TEST_CASE("phi_normal is finite, non-negative and monotone everywhere") {
  double prev = 0;
  for (double y = -100; y <= 200; y += 0.25) {
    double p = phi_normal(y, 0, 1);
    CHECK(std::isfinite(p));
    CHECK(p >= 0);
    CHECK(p >= prev);
    prev = p;
  }
  // erfc hands over to the asymptotic series at 30σ without a jump.
  CHECK(phi_normal(30 - 1e-9, 0, 1) == doctest::Approx(phi_normal(30, 0, 1)).epsilon(1e-9));
  CHECK(std::isfinite(phi_normal(1e300, 0, 1)));
  CHECK(phi_normal(1e300, 0, 1) > 1e100);
  CHECK(std::isfinite(phi_normal(1, 0, 0)));  // σ 0 is floored, not divided by
}

TEST_CASE("phi is 0 before any heartbeat") {
  PhiDetector d;
  CHECK_FALSE(d.monitoring());
  CHECK(d.phi(at(0)) == 0);
  CHECK(d.phi(at(1e9)) == 0);
  CHECK(d.available(at(1e9), kDefaultPhiThreshold));
}

TEST_CASE("one heartbeat: first_interval stands in for the mean") {
  PhiOptions o;
  o.first_interval = 2000ms;
  o.min_stddev = 100ms;
  PhiDetector d(o);
  REQUIRE(d.heartbeat(at(0)));
  CHECK(d.monitoring());
  CHECK(d.samples() == 0);
  CHECK(d.mean_ms() == doctest::Approx(2000));
  CHECK(d.stddev_ms() == doctest::Approx(500));  // a quarter of the estimate
  CHECK(d.phi(at(2000)) == doctest::Approx(-std::log10(0.5)));
  double expect = 2000 + phi_to_sigmas(8) * 500;
  CHECK(crossing_ms(d, 0, 8) == doctest::Approx(expect).epsilon(1.5 / expect));
}

TEST_CASE("regular 1 s heartbeats: small phi on time, crosses 8 when theory says") {
  PhiDetector d;  // defaults: σ floored at 500 ms, no acceptable pause
  double last = beat(d, 0, 1000, 20);
  CHECK(d.samples() == 19);
  CHECK(d.mean_ms() == doctest::Approx(1000));
  CHECK(d.stddev_ms() == doctest::Approx(500));

  CHECK(d.phi(at(last)) < 0.01);                                            // just heard
  CHECK(d.phi(at(last + 1000)) == doctest::Approx(0.30103).epsilon(1e-4));  // due now
  CHECK(d.phi(at(last + 1050)) < 1);                                        // slightly late
  CHECK(d.available(at(last + 1050), kDefaultPhiThreshold));
  CHECK(d.phi(at(last + 1500)) == doctest::Approx(phi_normal(1, 0, 1)));

  // φ = 8 at mean + z(8)·σ = 1000 + 5.612 · 500 ≈ 3806 ms of silence.
  double expect = 1000 + phi_to_sigmas(8) * 500;
  CHECK(expect == doctest::Approx(3806).epsilon(1e-3));
  double crossed = crossing_ms(d, last, 8);
  CHECK(crossed == doctest::Approx(expect).epsilon(1.5 / expect));
  CHECK(d.available(at(last + crossed - 2), 8));
  CHECK_FALSE(d.available(at(last + crossed), 8));

  // A long silence: far past the threshold, and still a finite number.
  CHECK(d.phi(at(last + 60000)) > 100);
  CHECK(std::isfinite(d.phi(at(last + 1e12))));
}

TEST_CASE("acceptable_pause shifts the crossing by exactly the pause") {
  PhiOptions o;
  o.acceptable_pause = 3000ms;
  PhiDetector d(o);
  double last = beat(d, 0, 1000, 20);
  double expect = 1000 + 3000 + phi_to_sigmas(8) * 500;
  CHECK(crossing_ms(d, last, 8) == doctest::Approx(expect).epsilon(1.5 / expect));
  CHECK(d.phi(at(last + 4000)) == doctest::Approx(-std::log10(0.5)));
}

TEST_CASE("jittery arrivals widen sigma and delay suspicion") {
  PhiOptions o;
  o.min_stddev = 1ms;  // let the data speak
  PhiDetector jittery(o);
  PhiDetector steady(o);
  // 800, 1000, 1200 ms repeating: mean 1000, population σ = √(80000/3).
  double t = 0;
  REQUIRE(jittery.heartbeat(at(t)));
  const double pattern[] = {800, 1000, 1200};
  for (int i = 0; i < 99; ++i) REQUIRE(jittery.heartbeat(at(t += pattern[i % 3])));
  double last_steady = beat(steady, 0, 1000, 100);

  double sigma = std::sqrt(80000.0 / 3);
  CHECK(jittery.samples() == 99);
  CHECK(jittery.mean_ms() == doctest::Approx(1000).epsilon(1e-9));
  CHECK(jittery.stddev_ms() == doctest::Approx(sigma).epsilon(1e-6));
  CHECK(steady.stddev_ms() == doctest::Approx(1));  // the floor

  double expect = 1000 + phi_to_sigmas(8) * sigma;  // ≈ 1916 ms
  double crossed = crossing_ms(jittery, t, 8);
  CHECK(crossed == doctest::Approx(expect).epsilon(1.5 / expect));
  // The same silence that a jittery peer is allowed is suspect in a steady one.
  CHECK(crossing_ms(steady, last_steady, 8) < 1010);
  CHECK_FALSE(steady.available(at(last_steady + 1500), 8));
  CHECK(jittery.available(at(t + 1500), 8));
}

TEST_CASE("the window is bounded and forgets old intervals") {
  PhiOptions o;
  o.window = 100;
  PhiDetector d(o);
  double last = beat(d, 0, 2000, 101);  // 100 intervals of 2 s
  CHECK(d.samples() == 100);
  CHECK(d.mean_ms() == doctest::Approx(2000));
  last = beat(d, last + 1000, 1000, 100);  // 100 intervals of 1 s
  CHECK(d.samples() == 100);
  CHECK(d.mean_ms() == doctest::Approx(1000));
  beat(d, last + 1000, 1000, 5000);
  CHECK(d.samples() == 100);

  PhiOptions zero;
  zero.window = 0;  // treated as 1
  PhiDetector one(zero);
  beat(one, 0, 700, 10);
  CHECK(one.samples() == 1);
  CHECK(one.mean_ms() == doctest::Approx(700));
}

TEST_CASE("duplicate and backwards timestamps are ignored, never NaN") {
  PhiDetector d;
  double last = beat(d, 0, 1000, 10);
  size_t n = d.samples();
  double mean = d.mean_ms();
  CHECK_FALSE(d.heartbeat(at(last)));        // duplicate
  CHECK_FALSE(d.heartbeat(at(last - 500)));  // reordered
  CHECK_FALSE(d.heartbeat(Clock::time_point::min()));
  CHECK(d.samples() == n);
  CHECK(d.mean_ms() == mean);
  // A `now` before the last heartbeat counts as no time elapsed.
  CHECK(d.phi(at(last - 5000)) == d.phi(at(last)));
  CHECK(std::isfinite(d.phi(Clock::time_point::min())));
  CHECK(std::isfinite(d.phi(Clock::time_point::max())));
  CHECK(d.phi(Clock::time_point::max()) > 8);
  // Extreme but ordered heartbeats keep everything finite.
  PhiDetector e;
  REQUIRE(e.heartbeat(Clock::time_point::min()));
  REQUIRE(e.heartbeat(Clock::time_point::max()));
  CHECK(std::isfinite(e.mean_ms()));
  CHECK(std::isfinite(e.phi(Clock::time_point::max())));

  d.reset();
  CHECK_FALSE(d.monitoring());
  CHECK(d.samples() == 0);
  CHECK(d.heartbeat(at(last - 500)));  // accepted after a reset
}

TEST_CASE("an outage does not blind the detector afterwards") {
  PhiDetector clamped;
  PhiOptions o;
  o.outage_phi = 0;  // record intervals as they are
  PhiDetector raw(o);
  double last = 0;
  for (PhiDetector* d : {&clamped, &raw}) {
    last = beat(*d, 0, 1000, 100);
    last = beat(*d, last + 3'600'000, 1000, 2);  // an hour of silence, then back
  }
  // Recorded as is, the hour makes the mean ~37 s and σ ~6 min.
  CHECK(raw.mean_ms() > 30000);
  CHECK(raw.stddev_ms() > 300000);
  // Clamped at the φ = 8 point (1000 + 5.612 · 500 ms), it barely moves.
  CHECK(clamped.mean_ms() < 1030);
  CHECK_FALSE(clamped.available(at(last + 10000), 8));
  CHECK(raw.available(at(last + 10000), 8));
}

TEST_CASE("a lasting change of rhythm is learned") {
  PhiDetector d;
  double last = beat(d, 0, 1000, 100);
  // The peer now beats every 5 s: at first each interval looks like an
  // outage and is clamped, but every clamp moves the statistics on, so the
  // detector stops suspecting it after a few beats and fully adapts within
  // about a window.
  int suspected = 0;
  int last_suspected = -1;
  for (int i = 0; i < 400; ++i) {
    last += 5000;
    if (!d.available(at(last - 1), 8)) {
      ++suspected;
      last_suspected = i;
    }
    REQUIRE(d.heartbeat(at(last)));
  }
  CHECK(suspected > 0);
  CHECK(last_suspected < 20);
  CHECK(d.mean_ms() == doctest::Approx(5000).epsilon(1e-6));
  CHECK(d.available(at(last + 5000), 8));
}
