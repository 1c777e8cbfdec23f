#include "tools/dag/args.h"

#include <algorithm>
#include <charconv>

namespace trellis::dag {

std::optional<std::string> ParsedArgs::get(std::string_view name) const {
  auto it = options.find(name);
  if (it == options.end()) return std::nullopt;
  return it->second;
}

std::optional<uint64_t> parse_count(std::string_view text) {
  uint64_t v = 0;
  if (text.empty()) return std::nullopt;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

std::optional<ParsedArgs> parse_args(std::string_view command, Args args, const ArgSpec& spec) {
  auto among = [](std::initializer_list<std::string_view> names, std::string_view n) {
    return std::find(names.begin(), names.end(), n) != names.end();
  };
  ParsedArgs out;
  bool options_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (options_done || a.size() < 2 || a[0] != '-' || a == "-") {
      out.positional.push_back(a);
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    std::string name = a;
    std::optional<std::string> value;
    if (auto eq = a.find('='); eq != std::string::npos && a.starts_with("--")) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
    }
    if (among(spec.with_value, name)) {
      if (!value) {
        if (i + 1 >= args.size()) {
          usage_error(command, name + " needs a value");
          return std::nullopt;
        }
        value = args[++i];
      }
      out.options[name] = *value;
    } else if (among(spec.flags, name)) {
      if (value) {
        usage_error(command, name + " takes no value");
        return std::nullopt;
      }
      out.options[name] = "";
    } else {
      usage_error(command, "unknown option " + name);
      return std::nullopt;
    }
  }
  if (out.positional.size() < spec.min_positional) {
    usage_error(command, std::string("missing ") + spec.positional_names);
    return std::nullopt;
  }
  if (out.positional.size() > spec.max_positional) {
    usage_error(command, "unexpected argument '" + out.positional[spec.max_positional] + "'");
    return std::nullopt;
  }
  return out;
}

}  // namespace trellis::dag
