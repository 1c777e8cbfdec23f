// trellis-dag dot: the DAG as Graphviz DOT, streamed from one snapshot.
#include <fmt/format.h>

#include "tools/dag/blocks.h"
#include "tools/dag/cli.h"
#include "tools/dag/dot.h"
#include "tools/dag/text.h"

namespace trellis::dag {

namespace {

constexpr size_t kKeysPerNode = 3;
constexpr size_t kKeyChars = 24;

// Text inside a DOT double-quoted string.
std::string dot_quote(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

std::string key_label(std::string_view key) {
  std::string k = escape_text(key);
  if (k.size() <= kKeyChars) return dot_quote(k);
  size_t cut = kKeyChars;
  while (cut > 0 && (static_cast<uint8_t>(k[cut]) & 0xc0) == 0x80) --cut;
  return dot_quote(k.substr(0, cut)) + "…";
}

std::string node_label(const Cid& cid, const Block& b) {
  std::string label = fmt::format("{}\\nh={}", dot_quote(short_cid(cid)), b.delta.priority);
  size_t n = 0;
  for (const auto& e : b.delta.elements) {
    if (n++ == kKeysPerNode) break;
    label += "\\n" + key_label(e.key);
  }
  for (const auto& t : b.delta.tombstones) {
    if (n++ == kKeysPerNode) break;
    label += "\\n-" + key_label(t.key);
  }
  size_t total = b.delta.elements.size() + b.delta.tombstones.size();
  if (total > kKeysPerNode) label += fmt::format("\\n(+{} more)", total - kKeysPerNode);
  return label;
}

}  // namespace

bool parse_levels(std::string_view command, const ParsedArgs& parsed,
                  std::optional<uint64_t>* levels) {
  auto l = parsed.get("--levels");
  if (!l) return true;
  *levels = parse_count(*l);
  if (*levels && **levels > 0) return true;
  usage_error(command, "--levels needs a positive number");
  return false;
}

Status write_dot(const Txn& txn, const Dbs& d, std::optional<uint64_t> levels, std::FILE* out) {
  // Blocks at or above `cutoff` are drawn.
  uint64_t cutoff = 0;
  if (levels) {
    uint64_t top = max_head_height(txn, d);
    cutoff = top >= *levels ? top - *levels + 1 : 0;
  }
  // The height of a link, to decide whether its edge is drawn.
  auto height_of = [&](const Cid& cid) -> std::optional<uint64_t> {
    if (auto h = merged_height(txn, d, cid)) return h;
    auto b = load_block(txn, d, cid);
    if (!b) return std::nullopt;
    return b->delta.priority;
  };

  fmt::print(out, "digraph trellis {{\n");
  fmt::print(out, "  rankdir=TB;\n");
  fmt::print(out, "  node [shape=box, fontname=\"monospace\", fontsize=10];\n");
  Cursor c(txn, d.blocks);
  for (bool ok = c.first(); ok; ok = c.next()) {
    auto cid = Cid::from_bytes(c.key());
    if (!cid) continue;  // verify reports it
    auto block = decode_block(c.value());
    if (!block) {
      fmt::print(out, "  \"{}\" [label=\"{}\\ncorrupt\", color=red];\n", cid->to_string(),
                 dot_quote(short_cid(*cid)));
      continue;
    }
    if (block->delta.priority < cutoff) continue;
    BlockState s = block_state(txn, d, *cid);
    std::string style;
    if (txn.has(d.heads, cid->view())) style = ", style=bold, penwidth=2";
    if (s != BlockState::merged) style = ", style=dashed";
    fmt::print(out, "  \"{}\" [label=\"{}\"{}];\n", cid->to_string(), node_label(*cid, *block),
               style);
    for (const auto& l : block->links) {
      BlockState ls = block_state(txn, d, l);
      if (!is_stored(ls)) {
        fmt::print(out, "  \"{}\" [label=\"{}\\n{}\", style=dashed, color=grey, fontcolor=grey];\n",
                   l.to_string(), dot_quote(short_cid(l)),
                   ls == BlockState::wanted ? "missing (wanted)" : "missing");
        fmt::print(out, "  \"{}\" -> \"{}\" [style=dashed, color=grey];\n", cid->to_string(),
                   l.to_string());
        continue;
      }
      if (cutoff > 0) {
        auto h = height_of(l);
        if (!h || *h < cutoff) continue;
      }
      fmt::print(out, "  \"{}\" -> \"{}\";\n", cid->to_string(), l.to_string());
    }
  }
  fmt::print(out, "}}\n");
  return Status::ok();
}

int cmd_dot(const Context& ctx, Args args) {
  auto parsed = parse_args("dot", args, {.with_value = {"--levels"}});
  if (!parsed) return kExitUsage;
  std::optional<uint64_t> levels;
  if (!parse_levels("dot", *parsed, &levels)) return kExitUsage;
  auto store = open_read_only(ctx);
  if (!store) return kExitStore;
  Status st =
      store->read([&](const Txn& txn) { return write_dot(txn, store->dbs(), levels, stdout); });
  if (!st) return store_error(st);
  return kExitOk;
}

}  // namespace trellis::dag
