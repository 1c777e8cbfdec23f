// Feeds arbitrary text to the multiaddr parser. Besides "never crash", it
// checks that whatever parses prints to text that parses back to the same
// value and prints identically again (printing is canonical), and that the
// printed form is never longer than the input (so it stays within bounds).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "net/multiaddr.h"

using namespace trellis;
using namespace trellis::net;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = as_chars(ByteView(data, size));
  auto ma = Multiaddr::parse(text);
  if (!ma) {
    require(!ma.status().message().empty());
    return 0;
  }
  const std::string printed = ma->to_string();
  require(printed.size() <= text.size());
  auto again = Multiaddr::parse(printed);
  require(again.is_ok());
  require(*again == *ma);
  require(again->to_string() == printed);
  require(ma->without_peer().with_peer(ma->peer) == *ma);
  return 0;
}
