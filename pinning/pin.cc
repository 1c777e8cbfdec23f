#include "pinning/pin.h"

#include <algorithm>

namespace trellis::pinning {

namespace {

std::string fmt_count(const char* what, size_t n, size_t max) {
  return std::string(what) + " has " + std::to_string(n) + " entries; at most " +
         std::to_string(max) + " are allowed";
}

Status check_strings(const std::vector<std::string>& v, size_t max, const char* what) {
  if (v.size() > max)
    return invalid(fmt_count(what, v.size(), max));
  for (const auto& s : v) {
    if (s.empty()) return invalid(std::string(what) + " has an empty entry");
    if (s.size() > kMaxStringBytes)
      return invalid(std::string(what) + " has an entry over " + std::to_string(kMaxStringBytes) +
                     " bytes");
  }
  // Pairwise for the usual handful of peers (no copy: every stored pin is
  // checked as it is decoded); sorted copy for long lists.
  bool repeated = false;
  if (v.size() <= 16) {
    for (size_t i = 0; i < v.size() && !repeated; ++i)
      for (size_t j = i + 1; j < v.size() && !repeated; ++j) repeated = v[i] == v[j];
  } else {
    std::vector<std::string_view> sorted(v.begin(), v.end());
    std::sort(sorted.begin(), sorted.end());
    repeated = std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end();
  }
  if (repeated) return invalid(std::string(what) + " lists a peer twice");
  return Status::ok();
}

}  // namespace

const char* mode_name(Mode m) { return m == Mode::direct ? "direct" : "recursive"; }

Result<Mode> parse_mode(std::string_view s) {
  if (s.empty() || s == "recursive") return Mode::recursive;
  if (s == "direct") return Mode::direct;
  return invalid("mode \"" + std::string(s) + "\" is unknown: use recursive or direct");
}

const char* type_name(PinType t) {
  switch (t) {
    case PinType::data: return "pin";
    case PinType::meta: return "meta-pin";
    case PinType::cluster_dag: return "clusterdag-pin";
    case PinType::shard: return "shard-pin";
  }
  return "pin";
}

bool Pin::allocated_to(std::string_view peer) const {
  if (everywhere() || allocations.empty()) return true;
  return std::find(allocations.begin(), allocations.end(), peer) != allocations.end();
}

std::vector<std::string> split_commas(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(',', start);
    if (end == std::string_view::npos) end = s.size();
    if (end > start) out.emplace_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string pin_key(const Cid& cid) { return std::string(kPinPrefix) + cid.to_string(); }

std::string removed_key(const Cid& cid) { return std::string(kRemovedPrefix) + cid.to_string(); }

Bytes encode_removed(int64_t timestamp) {
  Bytes out(8);
  auto v = static_cast<uint64_t>(timestamp);
  for (int i = 7; i >= 0; --i, v >>= 8) out[static_cast<size_t>(i)] = static_cast<uint8_t>(v);
  return out;
}

std::optional<int64_t> decode_removed(ByteView b) {
  if (b.size() != 8) return std::nullopt;
  uint64_t v = 0;
  for (uint8_t byte : b) v = (v << 8) | byte;
  return static_cast<int64_t>(v);
}

Result<Cid> cid_of_key(std::string_view key) {
  if (!key.starts_with(kPinPrefix)) return invalid("key " + std::string(key) + " is not a pin");
  return Cid::parse(key.substr(kPinPrefix.size()));
}

Status validate(const Pin& p) {
  if (p.cid.empty()) return invalid("pin has no CID");
  if (p.name.size() > kMaxNameBytes)
    return invalid("name is " + std::to_string(p.name.size()) + " bytes; at most " +
                   std::to_string(kMaxNameBytes) + " are allowed");
  int32_t lo = p.replication_factor_min, hi = p.replication_factor_max;
  if ((lo == -1) != (hi == -1))
    return invalid("replication factors: -1 (pin everywhere) must be given for both min and "
                   "max or for neither (got min " +
                   std::to_string(lo) + ", max " + std::to_string(hi) + ")");
  if (lo < -1 || hi < -1)
    return invalid("replication factors must be -1 (everywhere), 0 (default) or positive");
  if (lo != -1 && hi != 0 && lo > hi)
    return invalid("replication factor min (" + std::to_string(lo) + ") is larger than max (" +
                   std::to_string(hi) + ")");
  if (p.mode == Mode::direct && p.max_depth != 0)
    return invalid("a direct pin has max_depth 0 (got " + std::to_string(p.max_depth) + ")");
  if (p.mode == Mode::recursive && p.max_depth == 0)
    return invalid("a recursive pin cannot have max_depth 0; use mode direct");
  if (p.max_depth < -1) return invalid("max_depth must be -1 (unlimited) or at least 0");
  if (Status st = check_strings(p.allocations, kMaxPeers, "allocations"); !st) return st;
  if (Status st = check_strings(p.user_allocations, kMaxPeers, "user_allocations"); !st) return st;
  if (Status st = check_strings(p.origins, kMaxOrigins, "origins"); !st) return st;
  if (p.metadata.size() > kMaxMetadataEntries)
    return invalid(fmt_count("metadata", p.metadata.size(), kMaxMetadataEntries));
  size_t meta_bytes = 0;
  for (const auto& [k, v] : p.metadata) {
    if (k.empty()) return invalid("metadata has an empty key");
    meta_bytes += k.size() + v.size();
  }
  if (meta_bytes > kMaxMetadataBytes)
    return invalid("metadata is " + std::to_string(meta_bytes) + " bytes; at most " +
                   std::to_string(kMaxMetadataBytes) + " are allowed");
  return Status::ok();
}

Result<Pin> prepare(Pin p, const std::optional<Pin>& existing,
                    const std::optional<Pin>& update_from, const PinDefaults& defaults,
                    int64_t now) {
  if (p.mode == Mode::direct) p.max_depth = 0;
  if (Status st = validate(p); !st) return st;
  if (p.expire_at != 0 && p.expire_at <= now)
    return invalid("expire_at is in the past; give a future time or leave it unset");
  if (p.pin_update) {
    if (!update_from)
      return Status(Code::not_found, "pin_update: " + p.pin_update->to_string() +
                                         " is not pinned in the cluster, so there is nothing "
                                         "to update from");
    p.replication_factor_min = update_from->replication_factor_min;
    p.replication_factor_max = update_from->replication_factor_max;
    p.allocations = update_from->allocations;
    p.user_allocations = update_from->user_allocations;
  }
  // Factors left at 0 take the cluster default. When the default is -1
  // (everywhere) but the request gave the other factor, "everywhere" would
  // break the both-or-neither rule, so the missing side follows the given
  // one: min alone means exactly min, max alone means at least one.
  bool min_default = p.replication_factor_min == 0, max_default = p.replication_factor_max == 0;
  if (min_default && max_default) {
    p.replication_factor_min = defaults.replication_factor_min;
    p.replication_factor_max = defaults.replication_factor_max;
  } else if (min_default) {
    p.replication_factor_min =
        defaults.replication_factor_min == -1 ? 1 : defaults.replication_factor_min;
  } else if (max_default) {
    p.replication_factor_max = defaults.replication_factor_max == -1
                                   ? p.replication_factor_min
                                   : std::max(defaults.replication_factor_max,
                                              p.replication_factor_min);
  }
  if (p.replication_factor_min > p.replication_factor_max)
    return invalid("replication factor min (" + std::to_string(p.replication_factor_min) +
                   ") is larger than max (" + std::to_string(p.replication_factor_max) +
                   ") once the cluster defaults apply");
  if (existing && existing->mode == Mode::recursive && p.mode == Mode::direct)
    return invalid(p.cid.to_string() +
                   " is pinned recursively; a direct pin would downgrade it. Unpin it first.");
  if (p.everywhere()) p.allocations.clear();
  p.timestamp = now;
  if (Status st = validate(p); !st) return st;
  return p;
}

}  // namespace trellis::pinning
