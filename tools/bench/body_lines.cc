#include "tools/bench/body_lines.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <string_view>

namespace trellis::bench {

namespace {

constexpr size_t kMaxHeader = 64 * 1024;
constexpr size_t kMaxLine = 1024;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool BodyLines::fail(std::string why) {
  error_ = std::move(why);
  state_ = State::done;
  return false;
}

void BodyLines::body(const char* p, size_t n) {
  bytes_ += n;
  for (const char* end = p + n; (p = static_cast<const char*>(std::memchr(p, '\n', end - p)));
       ++p)
    ++lines_;
}

bool BodyLines::parse_header() {
  std::string_view h = line_;
  size_t eol = h.find("\r\n");
  std::string_view status_line = h.substr(0, eol);
  size_t sp = status_line.find(' ');
  if (status_line.substr(0, 5) != "HTTP/" || sp == std::string_view::npos ||
      std::from_chars(status_line.data() + sp + 1, status_line.data() + status_line.size(), status_)
              .ec != std::errc())
    return fail("not an HTTP status line: " + std::string(status_line.substr(0, 80)));
  state_ = State::to_close;
  while (eol != std::string_view::npos) {
    h.remove_prefix(eol + 2);
    eol = h.find("\r\n");
    std::string_view field = h.substr(0, eol);
    size_t colon = field.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name = lower(trim(field.substr(0, colon)));
    std::string_view value = trim(field.substr(colon + 1));
    if (name == "transfer-encoding" && lower(value).find("chunked") != std::string::npos) {
      state_ = State::chunk_size;
    } else if (name == "content-length" && state_ == State::to_close) {
      if (std::from_chars(value.data(), value.data() + value.size(), left_).ec != std::errc())
        return fail("bad Content-Length: " + std::string(value));
      state_ = left_ == 0 ? State::done : State::sized;
    }
  }
  if (status_ == 204 || status_ == 304) state_ = State::done;
  line_.clear();
  return true;
}

bool BodyLines::feed(const char* p, size_t n) {
  const char* end = p + n;
  while (p < end && state_ != State::done) {
    switch (state_) {
      case State::header: {
        size_t from = line_.size() < 3 ? 0 : line_.size() - 3;
        line_.append(p, end);
        size_t at = line_.find("\r\n\r\n", from);
        if (at == std::string::npos) {
          if (line_.size() > kMaxHeader) return fail("response header over 64 KiB");
          return true;
        }
        p = end - (line_.size() - (at + 4));
        line_.resize(at + 2);
        if (!parse_header()) return false;
        break;
      }
      case State::chunk_size:
      case State::trailer: {
        auto* nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
        line_.append(p, nl ? nl : end);
        if (line_.size() > kMaxLine) return fail("chunk-size or trailer line over 1 KiB");
        if (!nl) return true;
        p = nl + 1;
        std::string_view line = trim(line_);
        if (state_ == State::trailer) {
          if (line.empty()) state_ = State::done;
        } else {
          line = line.substr(0, line.find(';'));
          if (std::from_chars(line.data(), line.data() + line.size(), left_, 16).ec != std::errc())
            return fail("bad chunk size: " + std::string(line));
          state_ = left_ == 0 ? State::trailer : State::chunk_data;
        }
        line_.clear();
        break;
      }
      case State::chunk_data:
      case State::sized: {
        size_t m = static_cast<size_t>(std::min<uint64_t>(left_, static_cast<uint64_t>(end - p)));
        body(p, m);
        p += m;
        left_ -= m;
        if (left_ == 0) state_ = state_ == State::sized ? State::done : State::chunk_end;
        break;
      }
      case State::chunk_end: {
        auto* nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
        if (!nl) return true;
        p = nl + 1;
        state_ = State::chunk_size;
        break;
      }
      case State::to_close:
        body(p, end - p);
        p = end;
        break;
      case State::done:
        break;
    }
  }
  return true;
}

bool BodyLines::closed() {
  if (state_ == State::to_close) state_ = State::done;
  return done();
}

}  // namespace trellis::bench
