// CARv1 archives (https://ipld.io/specs/transport/car/carv1/): how Trellis
// exports and imports blocks.
//
//   car     = varint(len) ‖ header ‖ section*
//   header  = DAG-CBOR {"roots": [CID, ...], "version": 1}
//   section = varint(len) ‖ binary CID ‖ block bytes
//
// CIDs in the header are CBOR tag 42 over a byte string 0x00 ‖ binary CID.
// Only this one header shape is understood; CARv2 is refused as unsupported.
// The reader checks framing only: it does not hash blocks against their CIDs
// (callers verify), so anything it returns is untrusted.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "crdt/bytes.h"
#include "crdt/cid.h"
#include "crdt/status.h"

namespace trellis {

// Bounds on what the reader accepts and the writer produces, so a hostile
// archive cannot make us allocate more than this per step.
inline constexpr size_t kMaxCarHeader = 64 * 1024;  // DAG-CBOR header bytes
inline constexpr size_t kMaxCarRoots = 1024;
inline constexpr size_t kMaxCarSection = 8 * 1024 * 1024;  // CID + block bytes

// varint(len) ‖ DAG-CBOR header naming `roots` (may be empty; the spec is
// unsettled there and common implementations accept it).
Result<Bytes> encode_car_header(const std::vector<Cid>& roots);
// Parses a DAG-CBOR header body (without its length varint) into its roots.
// Either key order is accepted; duplicate or unknown keys, indefinite
// lengths and non-minimal integers are not.
Result<std::vector<Cid>> decode_car_header(ByteView cbor);
// Appends one section: varint(len) ‖ cid ‖ block.
Status append_car_section(Bytes& out, const Cid& cid, ByteView block);

// Streams a CAR file to disk. The archive is written to "<path>.tmp" and
// renamed over `path` by finish(), so `path` never holds a partial archive
// (CARv1 cannot tell a file cut at a section boundary from a complete one).
// Not thread-safe.
class CarWriter {
 public:
  static Result<CarWriter> create(const std::string& path, const std::vector<Cid>& roots);
  CarWriter(CarWriter&&) noexcept;
  CarWriter& operator=(CarWriter&&) noexcept;
  // Without a successful finish(), removes the temporary file.
  ~CarWriter();

  // Appends a section. A bad argument (empty CID, section over
  // kMaxCarSection) fails that call only; after an I/O failure the writer is
  // dead and later calls return the same error.
  Status add(const Cid& cid, ByteView block);
  // Flushes, fsyncs, closes and renames into place; then fsyncs the directory.
  Status finish();

  uint64_t blocks_written() const;
  uint64_t bytes_written() const;  // archive size so far, header included

 private:
  struct Impl;
  explicit CarWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Reads a CAR archive section by section, from a file (buffered) or from
// memory. Not thread-safe.
class CarReader {
 public:
  static Result<CarReader> open(const std::string& path);
  // The whole archive in memory (e.g. a fuzzer input or a network message).
  static Result<CarReader> from_buffer(Bytes data);
  CarReader(CarReader&&) noexcept;
  CarReader& operator=(CarReader&&) noexcept;
  ~CarReader();

  const std::vector<Cid>& roots() const;
  // Reads the next section into *cid and *block. Returns false at a clean
  // end of the archive; a truncated or malformed section is an error, and
  // after an error every later call returns it again.
  Result<bool> next(Cid* cid, Bytes* block);
  // Bytes consumed so far, for progress and error reports.
  uint64_t offset() const;

 private:
  struct Impl;
  explicit CarReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace trellis
