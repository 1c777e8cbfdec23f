// PhiDetector: a phi-accrual failure detector for one peer (Hayashibara,
// Défago, Yared and Katayama, "The φ Accrual Failure Detector", 2004; the
// same idea as Akka's and Cassandra's detectors).
//
// Instead of a yes/no timeout it reports a suspicion level φ that grows the
// longer a peer stays silent, measured against how regularly that peer's
// heartbeats have arrived so far:
//
//   φ(now) = -log10( P(the next heartbeat arrives later than now) )
//
// where the inter-arrival time is modelled as a normal distribution with the
// mean and standard deviation of the last `window` intervals. φ = 1 means a
// live peer would be this late one time in 10, φ = 2 one in 100, φ = 8 one in
// 10^8. A steady peer is suspected quickly; a jittery one is given more
// slack, with no per-peer tuning.
//
// The tail probability is computed exactly, with std::erfc, not with the
// logistic approximation Akka uses (1/(1+e^{-y(1.5976+0.070566y²)})). That
// approximation exists because the JVM has no erf; its absolute error is
// small (~1e-4) but in the tail, where thresholds live, its *relative* error
// is large: it reaches φ = 8 at 5.23σ past the mean where the normal
// distribution reaches it at 5.61σ. With erfc, φ means exactly what the
// formula above says, and tests can check crossing times against theory.
// Far in the tail (beyond 30σ) erfc underflows, so there φ comes from the
// asymptotic expansion of log Q(y); φ stays finite for any finite input.
//
// Threshold. kDefaultPhiThreshold = 8, the default of Akka Cluster
// (akka.cluster.failure-detector.threshold) and Cassandra
// (phi_convict_threshold). Under the model, 8 means a false suspicion about
// once per 10^8 heartbeat intervals (with 1 s heartbeats, once in ~3 years).
// Real arrivals have heavier tails than a normal distribution (GC pauses,
// congestion, a busy event loop), so the real false-positive rate is far
// higher; `min_stddev` and `acceptable_pause` are the knobs for that, not a
// lower threshold. With steady 1 s heartbeats and the defaults below
// (σ floored at 500 ms) φ crosses 8 about 3.8 s after the last heartbeat.
// Note that Cassandra's φ uses an exponential model (φ = t / (mean·ln 10)),
// so its "8" means ~18 mean intervals of silence, and Akka's logistic "8"
// is φ ≈ 7.1 on this exact scale: the same number is not the same
// sensitivity across implementations. (IPFS Cluster's pubsub monitor had an
// accrual detector with default threshold 3 and removed it in v1.0 in favour
// of metric TTL expiry.)
//
// Contract: pure logic, no clock is read; callers pass steady_clock times.
// Memory is bounded by `window`. Timestamps that go backwards or repeat are
// ignored by heartbeat() and clamp to "no time elapsed" in phi(): they never
// produce NaN or infinity. Not thread-safe: one owner (the monitor's strand).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <vector>

namespace trellis::pinning {

inline constexpr double kDefaultPhiThreshold = 8.0;

struct PhiOptions {
  // How many inter-arrival intervals to remember (a ring buffer). 0 is
  // treated as 1.
  size_t window = 100;
  // Floor on the standard deviation. Perfectly regular heartbeats would give
  // σ ≈ 0 and a detector that fires on the first late millisecond.
  std::chrono::milliseconds min_stddev{500};
  // Silence that is normal and should not raise φ (a known GC pause, a
  // heartbeat that may be dropped): added to the mean, as Akka does.
  std::chrono::milliseconds acceptable_pause{0};
  // The expected heartbeat interval, used as the mean (with σ = a quarter of
  // it, floored by min_stddev) after the first heartbeat and before a second
  // one gives a real interval.
  std::chrono::milliseconds first_interval{1000};
  // An interval is recorded clamped to the time at which φ would have
  // reached this value (computed with σ no smaller than mean / 4, so a tight
  // min_stddev does not stop the detector from learning real jitter). Why:
  // one recorded outage of an hour among 1 s heartbeats makes the mean ~37 s
  // and σ ~6 min, and the detector would take half an hour to notice the
  // next failure, for the next `window` heartbeats. A lasting change of
  // rhythm is still learned, a bounded step per heartbeat. 0 disables it.
  double outage_phi = kDefaultPhiThreshold;
};

class PhiDetector {
 public:
  using Clock = std::chrono::steady_clock;

  explicit PhiDetector(PhiOptions options = {});

  // Records a heartbeat received at `t`. Returns false, and changes nothing,
  // when `t` is not after the previous heartbeat (a duplicate or reordered
  // event): a zero or negative interval is not a sample of the rhythm.
  bool heartbeat(Clock::time_point t);

  // The suspicion level at `now`, >= 0 and finite. 0 before the first
  // heartbeat: a peer never heard from is not evidence of failure here (as
  // in Akka); the caller decides how long to wait for a first heartbeat
  // (see monitoring()). `now` before the last heartbeat counts as no time
  // elapsed.
  double phi(Clock::time_point now) const;

  // phi(now) < threshold.
  bool available(Clock::time_point now, double threshold = kDefaultPhiThreshold) const;

  // Whether any heartbeat has been recorded.
  bool monitoring() const { return last_.has_value(); }
  // Intervals currently held (at most `window`).
  size_t samples() const { return count_; }
  // The statistics phi() uses, in milliseconds (σ after the floor, mean
  // before acceptable_pause is added). For diagnostics and tests.
  double mean_ms() const { return mean_ms_; }
  double stddev_ms() const { return stddev_ms_; }

  // Forgets all heartbeats (e.g. the peer restarted with a new rhythm).
  void reset();

 private:
  void add_interval(double ms);
  void recompute();

  PhiOptions options_;
  double outage_y_ = 0;       // standard scores past which an interval is clamped
  std::vector<double> ring_;  // intervals in ms, ring_.size() == window
  size_t next_ = 0;
  size_t count_ = 0;
  std::optional<Clock::time_point> last_;
  double mean_ms_ = 0;
  double stddev_ms_ = 0;
};

// -log10(P(X > x)) for X ~ N(mean, stddev²): exact via erfc, asymptotic in
// the far tail. stddev must be > 0. Exposed for tests and diagnostics.
double phi_normal(double x, double mean, double stddev);

// The standard score y at which phi_normal(mean + y·σ, mean, σ) == phi, for
// phi > 0 (bisection). How long until a detector crosses a threshold:
// mean + acceptable_pause + phi_to_sigmas(threshold) · σ.
double phi_to_sigmas(double phi);

}  // namespace trellis::pinning
