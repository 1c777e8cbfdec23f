#include "tools/dag/text.h"

#include <fmt/format.h>

namespace trellis::dag {

namespace {

// Length of the UTF-8 sequence starting at s[i], or 0 if it is not valid.
size_t utf8_sequence(std::string_view s, size_t i) {
  auto byte = [&](size_t j) { return static_cast<uint8_t>(s[j]); };
  uint8_t b = byte(i);
  if (b < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if ((b & 0xe0) == 0xc0) {
    n = 2;
    cp = b & 0x1fu;
  } else if ((b & 0xf0) == 0xe0) {
    n = 3;
    cp = b & 0x0fu;
  } else if ((b & 0xf8) == 0xf0) {
    n = 4;
    cp = b & 0x07u;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t j = 1; j < n; ++j) {
    if ((byte(i + j) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + j) & 0x3fu);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

bool is_control(uint8_t b) {
  return b < 0x20 || b == 0x7f;
}

}  // namespace

bool is_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_sequence(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

bool is_printable(std::string_view s) {
  for (char c : s)
    if (is_control(static_cast<uint8_t>(c))) return false;
  return is_utf8(s);
}

std::string escape_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    auto b = static_cast<uint8_t>(s[i]);
    size_t n = utf8_sequence(s, i);
    if (b == '\\') {
      out += "\\\\";
    } else if (n == 0 || is_control(b)) {
      out += fmt::format("\\x{:02x}", b);
      n = 1;
    } else {
      out.append(s.substr(i, n));
    }
    i += n;
  }
  return out;
}

std::string value_preview(ByteView v, size_t max_chars) {
  std::string_view text = as_chars(v);
  if (is_printable(text)) {
    if (text.size() <= max_chars) return fmt::format("\"{}\"", escape_text(text));
    // Cut at a character boundary.
    size_t cut = max_chars;
    while (cut > 0 && (static_cast<uint8_t>(text[cut]) & 0xc0) == 0x80) --cut;
    return fmt::format("\"{}\"… ({} bytes)", escape_text(text.substr(0, cut)), v.size());
  }
  size_t shown = std::min(v.size(), max_chars / 2);
  std::string hex = "0x" + to_hex(v.subspan(0, shown));
  if (shown < v.size()) hex += fmt::format("… ({} bytes)", v.size());
  return hex;
}

std::string count_of(uint64_t n, std::string_view singular, std::string_view plural) {
  return fmt::format("{} {}", n, n == 1 ? singular : plural);
}

std::string human_size(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(kUnits)) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, kUnits[u]);
}

std::string short_cid(const Cid& cid) {
  std::string s = cid.to_string();
  constexpr size_t kTail = 10;
  if (s.size() <= kTail + 1) return s;
  return "…" + s.substr(s.size() - kTail);
}

void put_bytes(json& obj, const std::string& name, ByteView bytes) {
  std::string_view text = as_chars(bytes);
  if (is_utf8(text))
    obj[name] = std::string(text);
  else
    obj[name + "_hex"] = to_hex(bytes);
}

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace trellis::dag
