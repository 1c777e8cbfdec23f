#include "tools/bench/args.h"

#include <cstdio>
#include <algorithm>
#include <limits>

namespace trellis::bench {

std::optional<uint64_t> parse_count(std::string_view s) {
  uint64_t v = 0;
  bool any = false;
  for (char c : s) {
    if (c == '_' || c == ',') continue;
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return std::nullopt;
    v = v * 10 + d;
    any = true;
  }
  if (!any) return std::nullopt;
  return v;
}

std::optional<std::string> string_arg(int argc, char** argv, int* i) {
  if (*i + 1 >= argc) {
    std::fprintf(stderr, "trellis-bench: %s needs a value\n", argv[*i]);
    return std::nullopt;
  }
  ++*i;
  return std::string(argv[*i]);
}

std::optional<uint64_t> count_arg(int argc, char** argv, int* i, uint64_t min) {
  const char* name = argv[*i];
  auto s = string_arg(argc, argv, i);
  if (!s) return std::nullopt;
  auto v = parse_count(*s);
  if (!v || *v < min) {
    std::fprintf(stderr, "trellis-bench: %s wants a whole number ≥ %llu, not '%s'\n", name,
                 static_cast<unsigned long long>(min), s->c_str());
    return std::nullopt;
  }
  return v;
}

std::optional<std::vector<size_t>> sizes_arg(int argc, char** argv, int* i) {
  const char* name = argv[*i];
  auto s = string_arg(argc, argv, i);
  if (!s) return std::nullopt;
  std::vector<size_t> out;
  for (size_t start = 0; start <= s->size();) {
    size_t end = std::min(s->find(',', start), s->size());
    std::string_view item(s->data() + start, end - start);
    uint64_t scale = 1;
    if (!item.empty() && (item.back() == 'k' || item.back() == 'M')) {
      scale = item.back() == 'k' ? 1'000 : 1'000'000;
      item.remove_suffix(1);
    }
    auto v = parse_count(item);
    if (!v || *v == 0) {
      std::fprintf(stderr, "trellis-bench: %s wants sizes like 100k,1M,10000000, not '%s'\n", name,
                   s->c_str());
      return std::nullopt;
    }
    out.push_back(static_cast<size_t>(*v * scale));
    start = end + 1;
  }
  return out;
}

}  // namespace trellis::bench
