#include "pinning/rfc3339.h"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace trellis::pinning {

namespace {

constexpr int64_t kSecond = 1'000'000'000;

// Days since 1970-01-01 of a civil date (proleptic Gregorian).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool digits(std::string_view s, size_t at, size_t n, int& out) {
  if (at + n > s.size()) return false;
  out = 0;
  for (size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

}  // namespace

int64_t unix_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string format_rfc3339(int64_t unix_ns) {
  if (unix_ns == 0) return std::string(kZeroTime);
  std::time_t secs = static_cast<std::time_t>(unix_ns / kSecond);
  int64_t frac = unix_ns % kSecond;
  if (frac < 0) {
    frac += kSecond;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[48];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf, n);
  if (frac > 0) {
    char f[16];
    std::snprintf(f, sizeof f, ".%09lld", static_cast<long long>(frac));
    std::string fs = f;
    while (fs.back() == '0') fs.pop_back();
    out += fs;
  }
  return out + "Z";
}

Result<int64_t> parse_rfc3339(std::string_view s) {
  if (s == kZeroTime) return int64_t{0};
  auto bad = [&] {
    return invalid("\"" + std::string(s.substr(0, 64)) +
                   "\" is not an RFC 3339 time such as 2030-01-02T15:04:05Z");
  };
  int y, mo, d, h, mi, sec;
  if (s.size() < 20 || !digits(s, 0, 4, y) || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't') || !digits(s, 11, 2, h) ||
      s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':' || !digits(s, 17, 2, sec))
    return bad();
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return bad();
  size_t i = 19;
  int64_t frac = 0;
  if (i < s.size() && s[i] == '.') {
    int64_t scale = kSecond;
    size_t start = ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (scale > 1) {
        scale /= 10;
        frac += (s[i] - '0') * scale;
      }
      ++i;
    }
    if (i == start) return bad();
  }
  int64_t offset = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int oh, om;
    if (!digits(s, i + 1, 2, oh) || i + 3 >= s.size() || s[i + 3] != ':' ||
        !digits(s, i + 4, 2, om) || oh > 23 || om > 59)
      return bad();
    offset = (s[i] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    i += 6;
  } else {
    return bad();
  }
  if (i != s.size()) return bad();
  int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset;
  if (secs < -(int64_t{1} << 33) || secs > (int64_t{1} << 33)) return bad();
  return secs * kSecond + frac;
}

Result<int64_t> parse_duration(std::string_view text) {
  auto bad = [&] {
    return invalid("\"" + std::string(text.substr(0, 64)) +
                   "\" is not a duration such as 90s, 30m, 1h30m or 7d");
  };
  if (text.empty() || text.size() > 64) return bad();
  double total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
    if (i == start) return bad();
    double n = 0;
    auto [p, ec] = std::from_chars(text.data() + start, text.data() + i, n);
    if (ec != std::errc() || p != text.data() + i) return bad();
    size_t u = i;
    while (i < text.size() && !((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
    std::string_view unit = text.substr(u, i - u);
    double scale;
    if (unit == "ns") scale = 1;
    else if (unit == "us" || unit == "µs") scale = 1e3;
    else if (unit == "ms") scale = 1e6;
    else if (unit == "s") scale = 1e9;
    else if (unit == "m") scale = 60e9;
    else if (unit == "h") scale = 3600e9;
    else if (unit == "d") scale = 86400e9;
    else return bad();
    total += n * scale;
  }
  if (total > 9e18) return bad();
  return static_cast<int64_t>(total);
}

}  // namespace trellis::pinning
