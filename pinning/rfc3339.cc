#include "pinning/rfc3339.h"

#include <array>
#include <charconv>
#include <chrono>

namespace trellis::pinning {

namespace {

constexpr int64_t kNanos = 1'000'000'000;


// Days since 1970-01-01 of a proleptic Gregorian date, and back.
int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void civil_from_days(int64_t z, int64_t* y, int64_t* m, int64_t* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp + (mp < 10 ? 3 : -9);
  *y = yoe + era * 400 + (*m <= 2);
}

bool leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int64_t days_in_month(int64_t y, int64_t m) {
  static constexpr std::array<int64_t, 12> kDays = {31, 28, 31, 30, 31, 30,
                                                    31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : kDays[static_cast<size_t>(m - 1)];
}

// Reads `n` decimal digits at `pos`, advancing it; -1 when they are not there.
int64_t digits(std::string_view s, size_t* pos, size_t n) {
  if (*pos + n > s.size()) return -1;
  int64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    const char c = s[*pos + i];
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  *pos += n;
  return v;
}

bool expect(std::string_view s, size_t* pos, char c) {
  if (*pos >= s.size() || (s[*pos] != c && !(c == 'T' && s[*pos] == 't'))) return false;
  ++*pos;
  return true;
}

}  // namespace

int64_t unix_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

// `n` decimal digits of v (0 <= v < 10^n), most significant first.
char* put_digits(char* p, int64_t v, int n) {
  for (int i = n - 1; i >= 0; --i, v /= 10) p[i] = static_cast<char>('0' + v % 10);
  return p + n;
}

}  // namespace

// Written by hand (no snprintf): a listing formats two per pin. Years are
// 1678–2262 for int64 nanoseconds, so always four digits.
char* write_rfc3339(int64_t unix_nanos, char* p) {
  if (unix_nanos == 0) return std::copy(kZeroTime.begin(), kZeroTime.end(), p);
  int64_t secs = unix_nanos / kNanos;
  int64_t nanos = unix_nanos % kNanos;
  if (nanos < 0) {
    nanos += kNanos;
    secs -= 1;
  }
  int64_t days = secs / 86400;
  int64_t rest = secs % 86400;
  if (rest < 0) {
    rest += 86400;
    days -= 1;
  }
  int64_t y = 0, m = 0, d = 0;
  civil_from_days(days, &y, &m, &d);
  p = put_digits(p, y, 4);
  *p++ = '-';
  p = put_digits(p, m, 2);
  *p++ = '-';
  p = put_digits(p, d, 2);
  *p++ = 'T';
  p = put_digits(p, rest / 3600, 2);
  *p++ = ':';
  p = put_digits(p, rest / 60 % 60, 2);
  *p++ = ':';
  p = put_digits(p, rest % 60, 2);
  if (nanos != 0) {
    *p++ = '.';
    p = put_digits(p, nanos, 9);
    while (p[-1] == '0') --p;  // trailing zeros trimmed, as Go writes them
  }
  *p++ = 'Z';
  return p;
}

std::string format_rfc3339(int64_t unix_nanos) {
  char buf[kRfc3339Max];
  return std::string(buf, write_rfc3339(unix_nanos, buf));
}

Result<int64_t> parse_rfc3339(std::string_view s) {
  if (s == kZeroTime) return int64_t{0};
  const Status bad = invalid("\"" + std::string(s.substr(0, 64)) +
                             "\" is not an RFC 3339 time like 2030-01-02T15:04:05Z");
  size_t pos = 0;
  const int64_t year = digits(s, &pos, 4);
  if (year < 0 || !expect(s, &pos, '-')) return bad;
  const int64_t month = digits(s, &pos, 2);
  if (month < 1 || month > 12 || !expect(s, &pos, '-')) return bad;
  const int64_t day = digits(s, &pos, 2);
  if (day < 1 || day > days_in_month(year, month) || !expect(s, &pos, 'T')) return bad;
  const int64_t hour = digits(s, &pos, 2);
  if (hour < 0 || hour > 23 || !expect(s, &pos, ':')) return bad;
  const int64_t minute = digits(s, &pos, 2);
  if (minute < 0 || minute > 59 || !expect(s, &pos, ':')) return bad;
  const int64_t second = digits(s, &pos, 2);
  if (second < 0 || second > 59) return bad;
  int64_t nanos = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int64_t scale = kNanos;
    size_t n = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (++n > 9) return bad;
      scale /= 10;
      nanos += (s[pos++] - '0') * scale;
    }
    if (n == 0) return bad;
  }
  int64_t offset = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    const int64_t sign = s[pos++] == '-' ? -1 : 1;
    const int64_t oh = digits(s, &pos, 2);
    if (oh < 0 || oh > 23 || !expect(s, &pos, ':')) return bad;
    const int64_t om = digits(s, &pos, 2);
    if (om < 0 || om > 59) return bad;
    offset = sign * (oh * 3600 + om * 60);
  } else {
    return bad;
  }
  if (pos != s.size()) return bad;
  const int64_t secs = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 +
                       second - offset;
  int64_t out = 0;
  if (__builtin_mul_overflow(secs, kNanos, &out) || __builtin_add_overflow(out, nanos, &out))
    return invalid("\"" + std::string(s) + "\" is outside the years 1678 to 2262");
  return out;
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
