// Parses arbitrary bytes as a CARv1 archive. Besides "never crash", checks
// that every section it returns re-encodes to exactly the bytes it consumed
// (lengths are minimal varints and CIDs are kept byte for byte).
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "crdt/car.h"

using namespace trellis;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto reader = CarReader::from_buffer(Bytes(data, data + size));
  if (!reader) return 0;
  if (auto header = encode_car_header(reader->roots()); !header) std::abort();
  Cid cid;
  Bytes block;
  for (;;) {
    const uint64_t start = reader->offset();
    auto more = reader->next(&cid, &block);
    if (!more || !*more) break;
    Bytes section;
    if (!append_car_section(section, cid, block).is_ok()) std::abort();
    const uint64_t end = reader->offset();
    if (end - start != section.size() || end > size ||
        std::memcmp(section.data(), data + start, section.size()) != 0) {
      std::abort();
    }
  }
  return 0;
}
