#include "crdt/car.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "crdt/varint.h"

namespace trellis {
namespace {

// ---- The tiny DAG-CBOR subset the header needs -------------------------

constexpr uint8_t kMajorUint = 0, kMajorBytes = 2, kMajorText = 3, kMajorArray = 4, kMajorMap = 5,
                  kMajorTag = 6;
constexpr uint64_t kTagCid = 42;
constexpr size_t kStdioBuffer = 1 << 20;

const char* major_name(uint8_t major) {
  static const char* const kNames[] = {"unsigned integer",
                                       "negative integer",
                                       "byte string",
                                       "text string",
                                       "array",
                                       "map",
                                       "tag",
                                       "simple value or float"};
  return kNames[major & 7];
}

// Appends a CBOR item head in its shortest form, as DAG-CBOR requires.
void put_head(Bytes& out, uint8_t major, uint64_t arg) {
  const auto m = static_cast<uint8_t>(major << 5);
  if (arg < 24) {
    out.push_back(static_cast<uint8_t>(m | arg));
    return;
  }
  // Additional info 24..27 means 1, 2, 4 or 8 big-endian argument bytes.
  const int info = arg <= 0xff ? 24 : arg <= 0xffff ? 25 : arg <= 0xffffffff ? 26 : 27;
  out.push_back(static_cast<uint8_t>(m | info));
  for (int i = (1 << (info - 24)) - 1; i >= 0; --i) {
    out.push_back(static_cast<uint8_t>(arg >> (8 * i)));
  }
}

void put_text(Bytes& out, std::string_view s) {
  put_head(out, kMajorText, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

// Reads CBOR item heads from the header body with bounds checks.
struct CborReader {
  ByteView in;
  size_t pos = 0;

  size_t remaining() const { return in.size() - pos; }

  Status head(uint8_t* major, uint64_t* arg) {
    if (pos >= in.size())
      return corrupt("CAR header: CBOR ends early at byte " + std::to_string(pos));
    const uint8_t b = in[pos++];
    *major = static_cast<uint8_t>(b >> 5);
    const uint8_t info = b & 31;
    if (info < 24) {
      *arg = info;
      return {};
    }
    if (info == 31) return corrupt("CAR header: indefinite-length CBOR items are not allowed");
    if (info > 27)
      return corrupt("CAR header: reserved CBOR additional info " + std::to_string(info));
    const size_t n = size_t{1} << (info - 24);
    if (remaining() < n) return corrupt("CAR header: CBOR ends inside an item head");
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | in[pos++];
    static constexpr uint64_t kMin[] = {24, 0x100, 0x10000, 0x100000000};
    if (v < kMin[info - 24]) {
      return corrupt("CAR header: CBOR integer is not in its shortest form (DAG-CBOR requires it)");
    }
    *arg = v;
    return {};
  }

  // The payload of a byte or text string whose head gave `len`.
  Status take(uint64_t len, ByteView* out) {
    if (len > remaining()) return corrupt("CAR header: CBOR string runs past the end");
    *out = in.subspan(pos, static_cast<size_t>(len));
    pos += static_cast<size_t>(len);
    return {};
  }
};

Status expect(uint8_t got, uint8_t want, const std::string& what) {
  if (got == want) return {};
  return corrupt("CAR header: " + what + " must be a " + major_name(want) + ", found a " +
                 major_name(got));
}

Status read_roots(CborReader& r, std::vector<Cid>* roots) {
  uint8_t major = 0;
  uint64_t count = 0;
  TRELLIS_TRY(r.head(&major, &count));
  TRELLIS_TRY(expect(major, kMajorArray, "\"roots\""));
  if (count > kMaxCarRoots) {
    return too_large("CAR header names " + std::to_string(count) + " roots; the limit is " +
                     std::to_string(kMaxCarRoots));
  }
  roots->reserve(static_cast<size_t>(count));
  for (uint64_t i = 0; i < count; ++i) {
    const std::string which = "root " + std::to_string(i);
    uint64_t arg = 0;
    TRELLIS_TRY(r.head(&major, &arg));
    TRELLIS_TRY(expect(major, kMajorTag, which));
    if (arg != kTagCid) {
      return corrupt("CAR header: " + which + " has CBOR tag " + std::to_string(arg) +
                     ", not 42 (CID)");
    }
    TRELLIS_TRY(r.head(&major, &arg));
    TRELLIS_TRY(expect(major, kMajorBytes, which + " inside tag 42"));
    ByteView raw;
    TRELLIS_TRY(r.take(arg, &raw));
    if (raw.empty() || raw[0] != 0x00) {
      return corrupt("CAR header: " + which + " lacks the 0x00 prefix before its binary CID");
    }
    auto cid = Cid::from_bytes(raw.subspan(1));
    if (!cid)
      return Status(cid.status().code(), "CAR header: " + which + ": " + cid.status().message());
    roots->push_back(std::move(cid).value());
  }
  return {};
}

// A key from hostile input, made safe to print.
std::string printable(ByteView key) {
  std::string s;
  for (uint8_t c : key.first(std::min<size_t>(key.size(), 32))) {
    s.push_back((c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?');
  }
  return key.size() > 32 ? s + "..." : s;
}

std::string errno_text() {
  return std::strerror(errno);
}

// What the reader would refuse, the writers refuse too.
Status check_section(const Cid& cid, size_t block_size, size_t* len) {
  if (cid.empty()) return invalid("CAR section CID is empty");
  *len = cid.bytes().size() + block_size;
  if (*len > kMaxCarSection) {
    return too_large("CAR section of " + std::to_string(*len) + " bytes exceeds the limit of " +
                     std::to_string(kMaxCarSection));
  }
  return {};
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

}  // namespace

Result<Bytes> encode_car_header(const std::vector<Cid>& roots) {
  if (roots.size() > kMaxCarRoots) {
    return too_large("a CAR header holds at most " + std::to_string(kMaxCarRoots) + " roots, not " +
                     std::to_string(roots.size()));
  }
  Bytes body;
  body.push_back(0xa2);  // map of two entries; "roots" sorts first (shorter key)
  put_text(body, "roots");
  put_head(body, kMajorArray, roots.size());
  for (const Cid& root : roots) {
    if (root.empty()) return invalid("CAR root CID is empty");
    put_head(body, kMajorTag, kTagCid);
    put_head(body, kMajorBytes, root.bytes().size() + 1);
    body.push_back(0x00);
    body.insert(body.end(), root.bytes().begin(), root.bytes().end());
  }
  put_text(body, "version");
  put_head(body, kMajorUint, 1);
  Bytes out;
  out.reserve(uvarint_size(body.size()) + body.size());
  put_uvarint(out, body.size());
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

Result<std::vector<Cid>> decode_car_header(ByteView cbor) {
  CborReader r{cbor};
  uint8_t major = 0;
  uint64_t entries = 0;
  TRELLIS_TRY(r.head(&major, &entries));
  TRELLIS_TRY(expect(major, kMajorMap, "the header"));
  if (entries > 2) {
    return corrupt("CAR header map has " + std::to_string(entries) +
                   " entries; only \"roots\" and \"version\" are allowed");
  }
  std::vector<Cid> roots;
  bool have_roots = false, have_version = false;
  uint64_t version = 0;
  for (uint64_t i = 0; i < entries; ++i) {
    uint64_t len = 0;
    TRELLIS_TRY(r.head(&major, &len));
    TRELLIS_TRY(expect(major, kMajorText, "a map key"));
    ByteView key;
    TRELLIS_TRY(r.take(len, &key));
    const std::string_view k = as_chars(key);
    if (k == "roots" && !have_roots) {
      have_roots = true;
      TRELLIS_TRY(read_roots(r, &roots));
    } else if (k == "version" && !have_version) {
      have_version = true;
      TRELLIS_TRY(r.head(&major, &version));
      TRELLIS_TRY(expect(major, kMajorUint, "\"version\""));
    } else if (k == "roots" || k == "version") {
      return corrupt("CAR header repeats the key \"" + std::string(k) + "\"");
    } else {
      return corrupt("CAR header has unknown key \"" + printable(key) + "\"");
    }
  }
  if (r.remaining() != 0) {
    return corrupt("CAR header has " + std::to_string(r.remaining()) + " bytes after its CBOR map");
  }
  if (!have_version) return corrupt("CAR header lacks \"version\"");
  if (version != 1) {
    return Status(Code::unsupported,
                  "CAR version " + std::to_string(version) + " is not supported (only CARv1 is)");
  }
  if (!have_roots) return corrupt("CAR header lacks \"roots\"");
  return roots;
}

Status append_car_section(Bytes& out, const Cid& cid, ByteView block) {
  size_t len = 0;
  TRELLIS_TRY(check_section(cid, block.size(), &len));
  put_uvarint(out, len);
  out.insert(out.end(), cid.bytes().begin(), cid.bytes().end());
  out.insert(out.end(), block.begin(), block.end());
  return {};
}

// ---- CarWriter -----------------------------------------------------------

struct CarWriter::Impl {
  File file;  // null once finished
  std::string path, tmp_path;
  Bytes scratch;  // the current section's length varint, reused
  uint64_t blocks = 0, bytes = 0;
  Status failed;  // sticky I/O failure

  ~Impl() {
    if (file) {
      file.reset();
      std::remove(tmp_path.c_str());
    }
  }

  Status fail(const std::string& what) {
    failed = Status(Code::io_error, what + " '" + tmp_path + "': " + errno_text());
    return failed;
  }

  Status write(const void* p, size_t n) {
    if (n != 0 && std::fwrite(p, 1, n, file.get()) != n) return fail("writing CAR file");
    bytes += n;
    return {};
  }
};

CarWriter::CarWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CarWriter::CarWriter(CarWriter&&) noexcept = default;
CarWriter& CarWriter::operator=(CarWriter&&) noexcept = default;
CarWriter::~CarWriter() = default;

Result<CarWriter> CarWriter::create(const std::string& path, const std::vector<Cid>& roots) {
  auto header = encode_car_header(roots);
  if (!header) return header.status();
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->tmp_path = path + ".tmp";
  impl->file.reset(std::fopen(impl->tmp_path.c_str(), "wb"));
  if (!impl->file) {
    return Status(Code::io_error, "cannot create '" + impl->tmp_path + "': " + errno_text());
  }
  std::setvbuf(impl->file.get(), nullptr, _IOFBF, kStdioBuffer);
  TRELLIS_TRY(impl->write(header->data(), header->size()));
  return CarWriter(std::move(impl));
}

Status CarWriter::add(const Cid& cid, ByteView block) {
  Impl& w = *impl_;
  if (!w.failed.is_ok()) return w.failed;
  if (!w.file) return invalid("CarWriter::add after finish()");
  size_t len = 0;
  TRELLIS_TRY(check_section(cid, block.size(), &len));
  // Written in pieces so the block is never copied; stdio batches them.
  w.scratch.clear();
  put_uvarint(w.scratch, len);
  TRELLIS_TRY(w.write(w.scratch.data(), w.scratch.size()));
  TRELLIS_TRY(w.write(cid.bytes().data(), cid.bytes().size()));
  TRELLIS_TRY(w.write(block.data(), block.size()));
  ++w.blocks;
  return {};
}

Status CarWriter::finish() {
  Impl& w = *impl_;
  if (!w.failed.is_ok()) return w.failed;
  if (!w.file) return invalid("CarWriter::finish called twice");
  if (std::fflush(w.file.get()) != 0) return w.fail("flushing CAR file");
  if (::fsync(::fileno(w.file.get())) != 0) return w.fail("syncing CAR file");
  if (std::fclose(w.file.release()) != 0) {
    Status st = w.fail("closing CAR file");
    std::remove(w.tmp_path.c_str());
    return st;
  }
  if (std::rename(w.tmp_path.c_str(), w.path.c_str()) != 0) {
    Status st = w.fail("renaming CAR file to '" + w.path + "' from");
    std::remove(w.tmp_path.c_str());
    return st;
  }
  // Make the rename itself durable.
  std::string dir = std::filesystem::path(w.path).parent_path().string();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    const Status st(Code::io_error, "syncing directory '" + dir + "': " + errno_text());
    if (fd >= 0) ::close(fd);
    return st;
  }
  ::close(fd);
  return {};
}

uint64_t CarWriter::blocks_written() const {
  return impl_->blocks;
}
uint64_t CarWriter::bytes_written() const {
  return impl_->bytes;
}

// ---- CarReader -----------------------------------------------------------

struct CarReader::Impl {
  File file;         // set when reading a file...
  Bytes buf;         // ...otherwise the whole archive
  std::string name;  // for messages
  uint64_t offset = 0;
  std::vector<Cid> roots;
  Status failed;  // sticky

  std::string where(uint64_t at) const { return name + " at offset " + std::to_string(at); }

  // Next byte, or -1 at end of input.
  Result<int> get() {
    int c;
    if (file) {
      c = std::getc(file.get());
      if (c == EOF) {
        if (std::ferror(file.get()))
          return Status(Code::io_error, "reading " + name + ": " + errno_text());
        return -1;
      }
    } else {
      if (offset >= buf.size()) return -1;
      c = buf[static_cast<size_t>(offset)];
    }
    ++offset;
    return c;
  }

  // Reads up to n bytes; fewer only at end of input.
  Result<size_t> read(uint8_t* dst, size_t n) {
    size_t got;
    if (file) {
      got = std::fread(dst, 1, n, file.get());
      if (got < n && std::ferror(file.get())) {
        return Status(Code::io_error, "reading " + name + ": " + errno_text());
      }
    } else {
      got = std::min<size_t>(n, buf.size() - static_cast<size_t>(offset));
      if (got) std::memcpy(dst, buf.data() + offset, got);
    }
    offset += got;
    return got;
  }

  Status read_exact(uint8_t* dst, size_t n, uint64_t start, const std::string& what,
                    uint64_t declared) {
    auto got = read(dst, n);
    if (!got) return got.status();
    if (*got < n) {
      return corrupt(what + " " + where(start) + " is truncated: it declares " +
                     std::to_string(declared) + " bytes but the input ends at offset " +
                     std::to_string(offset));
    }
    return {};
  }

  // A length varint read byte by byte; false at a clean end before its first byte.
  Result<bool> read_length(uint64_t* value, const std::string& what) {
    uint8_t tmp[kMaxVarintBytes];
    size_t n = 0;
    const uint64_t start = offset;
    while (n < kMaxVarintBytes) {
      auto c = get();
      if (!c) return c.status();
      if (*c < 0) {
        if (n == 0) return false;
        return corrupt(what + " " + where(start) + " is truncated");
      }
      tmp[n++] = static_cast<uint8_t>(*c);
      if ((*c & 0x80) == 0) break;
    }
    auto v = read_uvarint(ByteView(tmp, n), nullptr);
    if (!v) return corrupt(what + " " + where(start) + ": " + v.status().message());
    *value = *v;
    return true;
  }

  Status read_header() {
    uint64_t len = 0;
    auto some = read_length(&len, "CAR header length");
    if (!some) return some.status();
    if (!*some) return corrupt(name + " is empty");
    if (len == 0) return corrupt("CAR header length is 0");
    if (len > kMaxCarHeader) {
      return too_large("CAR header of " + std::to_string(len) + " bytes exceeds the limit of " +
                       std::to_string(kMaxCarHeader));
    }
    Bytes header(static_cast<size_t>(len));
    const uint64_t start = offset;
    TRELLIS_TRY(read_exact(header.data(), header.size(), start, "CAR header", len));
    auto r = decode_car_header(header);
    if (!r) return r.status();
    roots = std::move(r).value();
    return {};
  }

  Result<bool> next(Cid* cid, Bytes* block) {
    const uint64_t start = offset;
    uint64_t len = 0;
    auto some = read_length(&len, "CAR section length");
    if (!some || !*some) return some;
    const std::string what = "CAR section";
    if (len == 0) return corrupt(what + " " + where(start) + " is empty (it must hold a CID)");
    if (len > kMaxCarSection) {
      return too_large(what + " " + where(start) + " declares " + std::to_string(len) +
                       " bytes; the limit is " + std::to_string(kMaxCarSection));
    }
    // Read just enough to hold any CID, then the rest straight into *block.
    uint8_t head[kMaxCidBytes];
    const size_t n = std::min<size_t>(static_cast<size_t>(len), sizeof head);
    TRELLIS_TRY(read_exact(head, n, start, what, len));
    size_t used = 0;
    auto c = Cid::read_prefix(ByteView(head, n), &used);
    if (!c)
      return Status(c.status().code(), what + " " + where(start) + ": " + c.status().message());
    block->resize(static_cast<size_t>(len) - used);
    if (n > used) std::memcpy(block->data(), head + used, n - used);
    TRELLIS_TRY(
        read_exact(block->data() + (n - used), static_cast<size_t>(len) - n, start, what, len));
    *cid = std::move(c).value();
    return true;
  }
};

CarReader::CarReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CarReader::CarReader(CarReader&&) noexcept = default;
CarReader& CarReader::operator=(CarReader&&) noexcept = default;
CarReader::~CarReader() = default;

Result<CarReader> CarReader::open(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->name = "CAR file '" + path + "'";
  impl->file.reset(std::fopen(path.c_str(), "rb"));
  if (!impl->file) return Status(Code::io_error, "cannot open " + impl->name + ": " + errno_text());
  std::setvbuf(impl->file.get(), nullptr, _IOFBF, kStdioBuffer);
  TRELLIS_TRY(impl->read_header());
  return CarReader(std::move(impl));
}

Result<CarReader> CarReader::from_buffer(Bytes data) {
  auto impl = std::make_unique<Impl>();
  impl->name = "CAR buffer";
  impl->buf = std::move(data);
  TRELLIS_TRY(impl->read_header());
  return CarReader(std::move(impl));
}

const std::vector<Cid>& CarReader::roots() const {
  return impl_->roots;
}
uint64_t CarReader::offset() const {
  return impl_->offset;
}

Result<bool> CarReader::next(Cid* cid, Bytes* block) {
  Impl& r = *impl_;
  if (!r.failed.is_ok()) return r.failed;
  auto more = r.next(cid, block);
  if (!more) r.failed = more.status();
  return more;
}

}  // namespace trellis
