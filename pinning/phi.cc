#include "pinning/phi.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

namespace trellis::pinning {

namespace {

// Absolute floor on σ (1 µs), whatever min_stddev says: it keeps the
// standard score finite when every interval is identical and min_stddev is 0.
constexpr double kSigmaFloorMs = 1e-3;
// Below this standard score erfc is accurate and far from underflow
// (Q(30) ≈ 5e-198); above it the asymptotic series is accurate to ~1e-10.
constexpr double kAsymptoticFrom = 30.0;
// y² must not overflow; beyond this φ is astronomically large anyway.
constexpr double kMaxScore = 1e150;

// A time point in ms, as a double: differences of any two time points are
// then finite, where subtracting int64 nanoseconds could overflow.
double to_ms(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(t.time_since_epoch()).count();
}

double ms_of(std::chrono::milliseconds d) {
  return static_cast<double>(d.count());
}

// -log10 Q(y) for the standard normal upper tail Q.
double phi_of_score(double y) {
  if (std::isnan(y)) return 0.0;
  y = std::min(y, kMaxScore);
  if (y < kAsymptoticFrom) {
    double q = 0.5 * std::erfc(y / std::sqrt(2.0));
    return std::max(0.0, -std::log10(q));
  }
  // Q(y) = φ(y)/y · (1 - 1/y² + 3/y⁴ - 15/y⁶ + …), taken in log space.
  double y2 = y * y;
  double series = 1.0 - 1.0 / y2 + 3.0 / (y2 * y2) - 15.0 / (y2 * y2 * y2);
  double ln_q = -0.5 * y2 - std::log(y) - 0.5 * std::log(2.0 * std::numbers::pi) + std::log(series);
  return -ln_q / std::log(10.0);
}

}  // namespace

double phi_normal(double x, double mean, double stddev) {
  return phi_of_score((x - mean) / std::max(stddev, kSigmaFloorMs));
}

double phi_to_sigmas(double phi) {
  if (!(phi > 0.0)) return -std::numeric_limits<double>::infinity();
  double lo = -40.0;  // φ there is ~0
  double hi = 1.0;
  while (phi_of_score(hi) < phi && hi < kMaxScore) hi *= 2.0;
  for (int i = 0; i < 200 && hi - lo > 1e-12 * std::max(1.0, hi); ++i) {
    double mid = 0.5 * (lo + hi);
    (phi_of_score(mid) < phi ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

PhiDetector::PhiDetector(PhiOptions options) : options_(options) {
  options_.window = std::max<size_t>(options_.window, 1);
  outage_y_ = options_.outage_phi > 0.0 ? phi_to_sigmas(options_.outage_phi)
                                        : std::numeric_limits<double>::infinity();
  ring_.assign(options_.window, 0.0);
  reset();
}

void PhiDetector::reset() {
  next_ = 0;
  count_ = 0;
  last_.reset();
  recompute();
}

bool PhiDetector::heartbeat(Clock::time_point t) {
  if (last_ && t <= *last_) return false;
  if (last_) {
    double interval = to_ms(t) - to_ms(*last_);
    if (std::isfinite(outage_y_)) {
      // σ no smaller than the first-interval guess (mean / 4): with a tight
      // min_stddev the detector must still be able to learn real jitter.
      double sigma = std::max(stddev_ms_, mean_ms_ / 4.0);
      double cap = mean_ms_ + ms_of(options_.acceptable_pause) + outage_y_ * sigma;
      interval = std::min(interval, cap);
    }
    add_interval(interval);
  }
  last_ = t;
  return true;
}

void PhiDetector::add_interval(double ms) {
  ring_[next_] = ms;
  next_ = (next_ + 1) % ring_.size();
  count_ = std::min(count_ + 1, ring_.size());
  recompute();
}

// Once per heartbeat, O(window): recomputing from the samples, rather than
// keeping running sums, cannot drift however long the detector lives.
void PhiDetector::recompute() {
  double floor = std::max(ms_of(options_.min_stddev), kSigmaFloorMs);
  if (count_ == 0) {
    mean_ms_ = std::max(ms_of(options_.first_interval), 0.0);
    stddev_ms_ = std::max(mean_ms_ / 4.0, floor);
    return;
  }
  // The ring is filled from index 0, so the first count_ slots are samples.
  double sum = 0.0;
  for (size_t i = 0; i < count_; ++i) sum += ring_[i];
  double mean = sum / static_cast<double>(count_);
  double squares = 0.0;
  for (size_t i = 0; i < count_; ++i) squares += (ring_[i] - mean) * (ring_[i] - mean);
  mean_ms_ = mean;
  // Population deviation (divide by n), as Akka; with a floor it matters little.
  stddev_ms_ = std::max(std::sqrt(squares / static_cast<double>(count_)), floor);
}

double PhiDetector::phi(Clock::time_point now) const {
  if (!last_) return 0.0;
  double elapsed = std::max(to_ms(now) - to_ms(*last_), 0.0);
  return phi_normal(elapsed, mean_ms_ + ms_of(options_.acceptable_pause), stddev_ms_);
}

bool PhiDetector::available(Clock::time_point now, double threshold) const {
  return phi(now) < threshold;
}

}  // namespace trellis::pinning
