#include "pinning/allocator.h"

#include <algorithm>
#include <limits>
#include <set>
#include <string_view>

namespace trellis::pinning {

namespace {

enum class Kind { tag, freespace, pinqueue };

struct Metric {
  Kind kind;
  std::string tag;  // for Kind::tag: the tag's name, without "tag:"
};

Result<std::vector<Metric>> parse_metrics(const std::vector<std::string>& names) {
  if (names.empty())
    return invalid("allocate_by is empty: name at least one metric, e.g. \"freespace\"");
  std::vector<Metric> out;
  for (const std::string& name : names) {
    std::string_view n = name;
    if (n == "freespace") {
      out.push_back({Kind::freespace, {}});
    } else if (n == "pinqueue") {
      out.push_back({Kind::pinqueue, {}});
    } else if (n.starts_with("tag:") && n.size() > 4) {
      out.push_back({Kind::tag, std::string(n.substr(4))});
    } else {
      return invalid("allocate_by contains an unknown metric name \"" + name +
                     "\" (known: tag:NAME, freespace, pinqueue)");
    }
  }
  return out;
}

constexpr int64_t kMaxWeight = std::numeric_limits<int64_t>::max();
constexpr int64_t kMinWeight = std::numeric_limits<int64_t>::min();

// Weights are summed up the tree; saturate rather than overflow (only sums
// of free space beyond 9.2 EB would reach the bound).
int64_t add_weights(int64_t a, int64_t b) {
  if (b > 0 && a > kMaxWeight - b) return kMaxWeight;
  if (b < 0 && a < kMinWeight - b) return kMinWeight;
  return a + b;
}

int64_t clamp_weight(uint64_t v) {
  return v > static_cast<uint64_t>(kMaxWeight) ? kMaxWeight : static_cast<int64_t>(v);
}

// A partition of peers. The root holds every peer still to place; the
// children of a node at depth d partition its peers by allocate_by[d]; the
// leaves (depth == allocate_by.size()) hold the peers themselves.
struct Node {
  std::string value;  // tag value, or peer ID for per-peer metrics
  int64_t weight = 0;
  int64_t aggregated = 0;
  std::vector<const PeerMetrics*> peers;  // sorted by peer ID
  std::vector<Node> children;
  size_t cursor = 0;  // next child to ask (or, at a leaf, next peer)
  bool exhausted = false;
};

bool before(const Node& a, const Node& b) {
  if (a.weight != b.weight) return a.weight > b.weight;
  if (a.aggregated != b.aggregated) return a.aggregated > b.aggregated;
  return a.value < b.value;
}

void build(Node& node, const std::vector<Metric>& metrics, size_t depth, uint64_t pinqueue_bucket) {
  if (depth == metrics.size()) return;
  const Metric& m = metrics[depth];
  if (m.kind == Kind::tag) {
    // std::map: groups come out in value order, peers keep their ID order.
    std::map<std::string, std::vector<const PeerMetrics*>> groups;
    for (const PeerMetrics* p : node.peers) {
      auto it = p->tags.find(m.tag);
      groups[it == p->tags.end() ? std::string() : it->second].push_back(p);
    }
    for (auto& [value, peers] : groups) {
      Node child;
      child.value = value;
      child.peers = std::move(peers);
      node.children.push_back(std::move(child));
    }
  } else {
    // Numeric metrics are not partitionable: one partition per peer.
    for (const PeerMetrics* p : node.peers) {
      Node child;
      child.value = p->peer;
      child.weight = m.kind == Kind::freespace
                         ? clamp_weight(p->freespace)
                         : -clamp_weight(p->pinqueue / std::max<uint64_t>(pinqueue_bucket, 1));
      child.peers = {p};
      node.children.push_back(std::move(child));
    }
  }
  for (Node& child : node.children) {
    build(child, metrics, depth + 1, pinqueue_bucket);
    child.aggregated = child.weight;
    for (const Node& grandchild : child.children)
      child.aggregated = add_weights(child.aggregated, grandchild.aggregated);
  }
  std::sort(node.children.begin(), node.children.end(), before);
}

// The next peer in balanced order, or null when none is left: children take
// turns, so consecutive picks come from different partitions while more than
// one still has peers.
const PeerMetrics* take(Node& node) {
  if (node.exhausted) return nullptr;
  if (node.children.empty()) {
    if (node.cursor < node.peers.size()) return node.peers[node.cursor++];
    node.exhausted = true;
    return nullptr;
  }
  for (size_t tries = 0; tries < node.children.size(); ++tries) {
    Node& child = node.children[node.cursor];
    node.cursor = (node.cursor + 1) % node.children.size();
    if (const PeerMetrics* p = take(child)) return p;
  }
  node.exhausted = true;
  return nullptr;
}

// "a, b, c and 4 more"
std::string list_peers(const std::vector<std::string>& peers) {
  std::string s;
  size_t shown = std::min(peers.size(), kMaxPeersInMessage);
  for (size_t i = 0; i < shown; ++i) {
    if (i > 0) s += ", ";
    s += peers[i];
  }
  if (peers.size() > shown) s += " and " + std::to_string(peers.size() - shown) + " more";
  return s;
}

}  // namespace

Result<std::vector<std::string>> allocate(const AllocationRequest& request,
                                          std::span<const PeerMetrics> candidates,
                                          const AllocatorOptions& options) {
  auto metrics = parse_metrics(options.allocate_by);
  if (!metrics) return metrics.status();
  if (request.min == -1 && request.max == -1) return std::vector<std::string>{};
  if (request.min < 1 || request.max < 1 || request.min > request.max)
    return invalid("bad replication factors min " + std::to_string(request.min) + ", max " +
                   std::to_string(request.max) +
                   ": want -1 and -1 (everywhere) or 1 <= min <= max");
  const auto min = static_cast<size_t>(request.min);
  const auto max = static_cast<size_t>(request.max);

  bool full_disks_matter = std::any_of(metrics->begin(), metrics->end(),
                                       [](const Metric& m) { return m.kind == Kind::freespace; });
  std::map<std::string, const PeerMetrics*> pool;  // usable candidates by ID
  std::set<std::string> seen;
  std::vector<std::string> full;
  for (const PeerMetrics& c : candidates) {
    if (c.peer.empty() || !seen.insert(c.peer).second) continue;
    if (full_disks_matter && c.freespace == 0)
      full.push_back(c.peer);
    else
      pool.emplace(c.peer, &c);
  }

  // Rule 2: keep live current allocations, in the order given.
  std::vector<std::string> out;
  std::set<std::string> chosen;
  std::vector<std::string> dead;
  for (const std::string& p : request.current) {
    if (pool.contains(p)) {
      if (chosen.insert(p).second) out.push_back(p);
    } else if (!p.empty() && !seen.contains(p) &&
               std::find(dead.begin(), dead.end(), p) == dead.end()) {
      dead.push_back(p);  // for the error message; full peers are listed apart
    }
  }
  if (out.size() >= max) {
    out.resize(max);
    return out;
  }

  // Rule 3: enough live replicas; return `current` itself (deduplicated),
  // keeping dead entries while there is room under max.
  if (out.size() >= min) {
    size_t room = max - out.size();
    std::vector<std::string> same;
    std::set<std::string> once;
    for (const std::string& p : request.current) {
      if (p.empty() || !once.insert(p).second) continue;
      if (chosen.contains(p)) {
        same.push_back(p);
      } else if (room > 0) {
        same.push_back(p);
        --room;
      }
    }
    return same;
  }

  // Rule 4: user allocations first, then the balanced order.
  const size_t live = out.size();
  std::vector<std::string> missing_user;
  for (const std::string& u : request.user_allocations) {
    if (chosen.contains(u)) continue;
    if (!pool.contains(u)) {
      if (!u.empty() && !seen.contains(u) &&
          std::find(missing_user.begin(), missing_user.end(), u) == missing_user.end())
        missing_user.push_back(u);
      continue;
    }
    if (out.size() < max) {
      out.push_back(u);
      chosen.insert(u);
    }
  }
  Node root;
  for (const auto& [id, m] : pool)
    if (!chosen.contains(id)) root.peers.push_back(m);
  build(root, *metrics, 0, options.pinqueue_bucket);
  while (out.size() < max) {
    const PeerMetrics* p = take(root);
    if (p == nullptr) break;
    out.push_back(p->peer);
  }
  if (out.size() >= min) return out;

  std::string why;
  auto section = [&why](const char* label, const std::vector<std::string>& peers) {
    if (peers.empty()) return;
    if (!why.empty()) why += "; ";
    why += label + list_peers(peers);
  };
  section("live allocations: ", {out.begin(), out.begin() + static_cast<ptrdiff_t>(live)});
  section("candidates: ", {out.begin() + static_cast<ptrdiff_t>(live), out.end()});
  section("no free space: ", full);
  section("allocated but not available: ", dead);
  section("user allocations not available: ", missing_user);
  if (why.empty()) why = "no live peers";
  return Status(Code::unavailable, "not enough peers to allocate: need " + std::to_string(min) +
                                       ", have " + std::to_string(out.size()) + " (" + why + ")");
}

}  // namespace trellis::pinning
