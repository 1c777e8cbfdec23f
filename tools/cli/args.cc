#include "tools/cli/args.h"

#include <charconv>
#include <cmath>

#include "tools/cli/cli.h"

namespace trellis::cli {

std::optional<std::string> Parsed::get(const std::string& name) const {
  auto it = values.find(name);
  if (it == values.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

const std::vector<std::string>& Parsed::all(const std::string& name) const {
  static const std::vector<std::string> none;
  auto it = values.find(name);
  return it == values.end() ? none : it->second;
}

Parsed parse_args(const std::vector<std::string>& args, const std::vector<OptionSpec>& specs) {
  Parsed out;
  bool options_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (options_done || a.size() < 2 || a[0] != '-') {
      out.positional.push_back(a);
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    std::string name = a == "-h" ? "help" : a.starts_with("--") ? a.substr(2) : "";
    std::optional<std::string> inline_value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name.resize(eq);
    }
    const OptionSpec* spec = nullptr;
    for (const auto& s : specs)
      if (name == s.name) spec = &s;
    if (!spec) fail(kUsage, "unknown option " + a + " (see --help)");
    std::string value;
    if (spec->takes_value) {
      if (inline_value) {
        value = *inline_value;
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        fail(kUsage, "option --" + name + " needs a value");
      }
    } else if (inline_value) {
      fail(kUsage, "option --" + name + " takes no value");
    }
    auto& slot = out.values[name];
    if (!slot.empty() && !spec->repeated && spec->takes_value)
      fail(kUsage, "option --" + name + " given twice");
    slot.push_back(std::move(value));
  }
  return out;
}

std::chrono::milliseconds parse_duration(const std::string& text, const std::string& what) {
  auto bad = [&]() -> std::chrono::milliseconds {
    fail(kUsage, what + ": bad duration \"" + text + "\" (e.g. 500ms, 30s, 2m, 1h30m)");
  };
  if (text.empty()) return bad();
  double total_ms = 0;
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    double n = 0;
    auto [q, ec] = std::from_chars(p, end, n, std::chars_format::fixed);
    if (ec != std::errc() || n < 0) return bad();
    p = q;
    std::string unit;
    while (p < end && std::isalpha(static_cast<unsigned char>(*p))) unit += *p++;
    double scale = 0;
    if (unit == "ms")
      scale = 1;
    else if (unit == "s" || (unit.empty() && p == end && total_ms == 0))
      scale = 1000;
    else if (unit == "m")
      scale = 60'000;
    else if (unit == "h")
      scale = 3'600'000;
    else
      return bad();
    total_ms += n * scale;
  }
  if (total_ms > 1e12) return bad();  // ~30 years: surely a typo
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(total_ms)));
}

int parse_int(const std::string& text, const std::string& what, bool allow_minus_one) {
  int n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || p != text.data() + text.size() || n < (allow_minus_one ? -1 : 0))
    fail(kUsage, what + ": expected " + (allow_minus_one ? "-1 or " : "") +
                     "a non-negative integer, got \"" + text + "\"");
  return n;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find(sep, i);
    if (j == std::string::npos) j = s.size();
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

}  // namespace trellis::cli
