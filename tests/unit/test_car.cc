// CARv1 export/import: round trips through files and buffers, the exact
// header bytes the spec's encoding gives, and malformed archives.
#include <doctest/doctest.h>

#include "tests/unit/hex.h"
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "crdt/car.h"
#include "crdt/varint.h"

using namespace trellis;
using trellis::testing::from_hex;
namespace fs = std::filesystem;

namespace {

Bytes bytes_of(std::string_view s) {
  auto v = as_bytes(s);
  return Bytes(v.begin(), v.end());
}

// A fresh directory removed when the test ends.
struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("trellis-car-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

Bytes read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

// A header body (no length varint) wrapped as a whole archive.
Bytes archive_with_header(const Bytes& body) {
  Bytes out;
  put_uvarint(out, body.size());
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

Bytes valid_header() {
  auto h = encode_car_header({Cid::sha256(kCodecDagCbor, as_bytes("root"))});
  REQUIRE(h);
  return *h;
}

std::string error_of(const Result<CarReader>& r) {
  return r ? std::string() : r.status().message();
}

bool contains(const std::string& s, std::string_view part) {
  return s.find(part) != std::string::npos;
}

// Reads every section; returns the error message, or "" at a clean end.
std::string drain(CarReader& r, std::vector<std::pair<Cid, Bytes>>* out = nullptr) {
  Cid cid;
  Bytes block;
  for (;;) {
    auto more = r.next(&cid, &block);
    if (!more) return more.status().message();
    if (!*more) return "";
    if (out) out->emplace_back(cid, block);
  }
}

}  // namespace

TEST_CASE("car: round trip of roots and blocks through a file") {
  TempDir dir;
  const std::string path = dir.file("out.car");
  std::vector<std::pair<Cid, Bytes>> blocks;
  for (std::string s : {"alpha", "", "gamma"}) {
    blocks.emplace_back(Cid::of_block(as_bytes(s)), bytes_of(s));
  }
  Bytes big(300000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 7);
  blocks.emplace_back(Cid::sha256(kCodecRaw, big), big);
  auto v0 = Cid::sha256(kCodecDagPb, as_bytes("pb")).to_v0();
  REQUIRE(v0);
  blocks.emplace_back(*v0, bytes_of("pb"));  // CIDv0 sections are legal too
  const std::vector<Cid> roots = {blocks[0].first, blocks[2].first};

  auto w = CarWriter::create(path, roots);
  REQUIRE_MESSAGE(w, w.status().to_string());
  for (const auto& [cid, data] : blocks) REQUIRE(w->add(cid, data).is_ok());
  CHECK(w->blocks_written() == blocks.size());
  CHECK_FALSE(fs::exists(path));  // only the temporary exists until finish()
  CHECK(fs::exists(path + ".tmp"));
  REQUIRE(w->finish().is_ok());
  CHECK(fs::exists(path));
  CHECK_FALSE(fs::exists(path + ".tmp"));
  CHECK(fs::file_size(path) == w->bytes_written());
  CHECK_FALSE(w->add(blocks[0].first, blocks[0].second).is_ok());

  auto r = CarReader::open(path);
  REQUIRE_MESSAGE(r, error_of(r));
  CHECK(r->roots() == roots);
  std::vector<std::pair<Cid, Bytes>> got;
  CHECK(drain(*r, &got) == "");
  CHECK(got == blocks);
  CHECK(r->offset() == fs::file_size(path));
  Cid cid;
  Bytes block;
  auto again = r->next(&cid, &block);
  REQUIRE(again);
  CHECK_FALSE(*again);

  // The same bytes parse from memory.
  auto m = CarReader::from_buffer(read_file(path));
  REQUIRE(m);
  got.clear();
  CHECK(drain(*m, &got) == "");
  CHECK(got == blocks);
}

TEST_CASE("car: in-memory encoding matches the file writer") {
  TempDir dir;
  const Cid a = Cid::of_block(as_bytes("a"));
  auto header = encode_car_header({a});
  REQUIRE(header);
  Bytes expect = *header;
  REQUIRE(append_car_section(expect, a, as_bytes("a")).is_ok());
  auto w = CarWriter::create(dir.file("x.car"), {a});
  REQUIRE(w);
  REQUIRE(w->add(a, as_bytes("a")).is_ok());
  REQUIRE(w->finish().is_ok());
  CHECK(read_file(dir.file("x.car")) == expect);
}

TEST_CASE("car: a writer dropped before finish leaves nothing behind") {
  TempDir dir;
  const std::string path = dir.file("partial.car");
  {
    auto w = CarWriter::create(path, {});
    REQUIRE(w);
    REQUIRE(w->add(Cid::of_block(as_bytes("x")), as_bytes("x")).is_ok());
  }
  CHECK_FALSE(fs::exists(path));
  CHECK_FALSE(fs::exists(path + ".tmp"));
  CHECK(CarWriter::create(dir.file("no/such/dir.car"), {}).status().code() == Code::io_error);
}

TEST_CASE("car: writer refuses bad sections") {
  TempDir dir;
  auto w = CarWriter::create(dir.file("w.car"), {});
  REQUIRE(w);
  CHECK(w->add(Cid(), as_bytes("x")).code() == Code::invalid_argument);
  Bytes huge(kMaxCarSection, 0);
  CHECK(w->add(Cid::sha256(kCodecRaw, huge), huge).code() == Code::too_large);
  CHECK(w->add(Cid::of_block(as_bytes("ok")), as_bytes("ok")).is_ok());  // still usable
  REQUIRE(w->finish().is_ok());
  CHECK(w->finish().code() == Code::invalid_argument);
  CHECK(encode_car_header({Cid()}).status().code() == Code::invalid_argument);
  CHECK(encode_car_header(std::vector<Cid>(kMaxCarRoots + 1, Cid::of_block({}))).status().code() ==
        Code::too_large);
}

TEST_CASE("car: single-root header bytes are the spec's DAG-CBOR encoding") {
  const Cid root = Cid::sha256(kCodecDagCbor, as_bytes("root"));
  REQUIRE(root.bytes().size() == 36);
  // Hand-assembled: map(2) "roots" array(1) tag(42) bytes(37) 00 CID "version" 1.
  Bytes want = {0x3a,  // 58 header bytes follow
                0xa2, 0x65, 'r', 'o', 'o', 't', 's', 0x81, 0xd8, 0x2a, 0x58, 0x25, 0x00};
  want.insert(want.end(), root.bytes().begin(), root.bytes().end());
  want.insert(want.end(), {0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x01});
  REQUIRE(want.size() == 59);
  auto got = encode_car_header({root});
  REQUIRE(got);
  CHECK(to_hex(*got) == to_hex(want));
  auto back = decode_car_header(ByteView(want).subspan(1));
  REQUIRE(back);
  CHECK(*back == std::vector<Cid>{root});

  auto none = encode_car_header({});
  REQUIRE(none);
  CHECK(to_hex(*none) == "11a265726f6f7473806776657273696f6e01");  // roots: [] is accepted
  auto empty_roots = CarReader::from_buffer(*none);
  REQUIRE(empty_roots);
  CHECK(empty_roots->roots().empty());
}

TEST_CASE("car: the CARv1 spec fixture (carv1-basic) header and first sections") {
  // The first bytes of the spec's carv1-basic.car, cut inside its third section.
  const Bytes fixture = from_hex(
      "63a265726f6f747382d82a58250001711220f88bc853804cf294fe417e4fa83028689fcdb1b1592c5102e1474db"
      "c200fab8bd82a5825000171122069ea0740f9807a28f4d932c62e7c1c83be055e55072c90266ab3e79df63a365b"
      "6776657273696f6e01"
      "280155122061be55a8e2f6b4e172338bddf184d6dbee29c98853e0a0485ecee7f27b9af0b461616161"
      "280155122081cc5b17018674b401b42f35ba07bb79e211239c23bffe658da1577e3e64687762626262"
      "2801551220b6fbd675f98e2abd22d4ed29fdc83150fedc48597e92dd1a7a24");
  auto r1 = Cid::parse("bafyreihyrpefhacm6kkp4ql6j6udakdit7g3dmkzfriqfykhjw6cad5lrm");
  auto r2 = Cid::parse("bafyreidj5idub6mapiupjwjsyyxhyhedxycv4vihfsicm2vt46o7morwlm");
  REQUIRE(r1);
  REQUIRE(r2);
  auto header = encode_car_header({*r1, *r2});
  REQUIRE(header);
  CHECK(to_hex(*header) == to_hex(ByteView(fixture).first(header->size())));

  auto r = CarReader::from_buffer(fixture);
  REQUIRE_MESSAGE(r, error_of(r));
  CHECK(r->roots() == std::vector<Cid>{*r1, *r2});
  std::vector<std::pair<Cid, Bytes>> got;
  const std::string err = drain(*r, &got);
  CHECK(contains(err, "truncated"));
  REQUIRE(got.size() == 2);
  CHECK(got[0].second == bytes_of("aaaa"));
  CHECK(got[0].first == Cid::sha256(kCodecRaw, as_bytes("aaaa")));  // the reader does not check
  CHECK(got[1].first == Cid::sha256(kCodecRaw, as_bytes("bbbb")));
  CHECK(drain(*r) == err);  // errors are sticky
}

TEST_CASE("car: truncated files are errors, not short archives") {
  TempDir dir;
  const std::string path = dir.file("t.car");
  {
    auto w = CarWriter::create(path, {Cid::of_block(as_bytes("0"))});
    REQUIRE(w);
    for (int i = 0; i < 3; ++i) {
      const std::string s(100, static_cast<char>('a' + i));
      REQUIRE(w->add(Cid::of_block(as_bytes(s)), as_bytes(s)).is_ok());
    }
    REQUIRE(w->finish().is_ok());
  }
  const auto size = fs::file_size(path);
  fs::resize_file(path, size - 1);  // inside the last block
  auto r = CarReader::open(path);
  REQUIRE(r);
  const std::string err = drain(*r);
  CHECK(contains(err, "truncated"));
  CHECK(contains(err, "t.car"));

  fs::resize_file(path, 30);  // inside the header
  auto h = CarReader::open(path);
  REQUIRE_FALSE(h);
  CHECK(contains(h.status().message(), "CAR header"));
  CHECK(contains(h.status().message(), "truncated"));

  // A section cut inside its CID or its length varint.
  Bytes buf = valid_header();
  const size_t header_size = buf.size();
  REQUIRE(append_car_section(buf, Cid::of_block(as_bytes("z")), as_bytes("z")).is_ok());
  for (size_t cut = header_size + 1; cut < buf.size(); ++cut) {
    auto c = CarReader::from_buffer(Bytes(buf.begin(), buf.begin() + static_cast<long>(cut)));
    REQUIRE(c);
    CHECK(contains(drain(*c), "truncated"));
  }
  Bytes half_varint = valid_header();
  half_varint.push_back(0x80);
  auto hv = CarReader::from_buffer(half_varint);
  REQUIRE(hv);
  CHECK(contains(drain(*hv), "CAR section length"));

  CHECK(CarReader::open(dir.file("missing.car")).status().code() == Code::io_error);
}

TEST_CASE("car: oversized or empty sections are refused before allocation") {
  Bytes buf = valid_header();
  put_uvarint(buf, kMaxCarSection + 1);
  auto r = CarReader::from_buffer(buf);
  REQUIRE(r);
  Cid cid;
  Bytes block;
  auto next = r->next(&cid, &block);
  REQUIRE_FALSE(next);
  CHECK(next.status().code() == Code::too_large);

  Bytes zero = valid_header();
  zero.push_back(0);
  auto z = CarReader::from_buffer(zero);
  REQUIRE(z);
  CHECK(contains(drain(*z), "is empty"));

  Bytes bad_cid = valid_header();
  bad_cid.insert(bad_cid.end(), {0x03, 0x05, 0x55, 0x00});  // CID version 5
  auto bc = CarReader::from_buffer(bad_cid);
  REQUIRE(bc);
  CHECK(contains(drain(*bc), "CID version 5"));

  Bytes huge_header;
  put_uvarint(huge_header, kMaxCarHeader + 1);
  CHECK(CarReader::from_buffer(huge_header).status().code() == Code::too_large);
}

TEST_CASE("car: malformed headers are rejected with clear errors") {
  const Cid root = Cid::sha256(kCodecDagCbor, as_bytes("root"));
  Bytes cid_item = {0xd8, 0x2a, 0x58, 0x25, 0x00};
  cid_item.insert(cid_item.end(), root.bytes().begin(), root.bytes().end());
  const Bytes roots_key = {0x65, 'r', 'o', 'o', 't', 's'};
  const Bytes version_key = {0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n'};
  auto cat = [](std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
  };
  auto parse = [](const Bytes& body) { return CarReader::from_buffer(archive_with_header(body)); };

  // Either key order is accepted.
  auto reversed = parse(cat({{0xa2}, version_key, {0x01}, roots_key, {0x81}, cid_item}));
  REQUIRE_MESSAGE(reversed, error_of(reversed));
  CHECK(reversed->roots() == std::vector<Cid>{root});

  struct Case {
    const char* name;
    Bytes body;
    const char* message;
  };
  const Case cases[] = {
      {"not a map", {0x81, 0x01}, "must be a map, found a array"},
      {"CARv2 pragma", cat({{0xa1}, version_key, {0x02}}), "CAR version 2 is not supported"},
      {"no roots", cat({{0xa1}, version_key, {0x01}}), "lacks \"roots\""},
      {"no version", cat({{0xa1}, roots_key, {0x80}}), "lacks \"version\""},
      {"unknown key", cat({{0xa2}, roots_key, {0x80}, {0x63, 'f', 'o', 'o'}, {0x01}}),
       "unknown key \"foo\""},
      {"repeated key", cat({{0xa2}, roots_key, {0x80}, roots_key, {0x80}}), "repeats the key"},
      {"three entries", {0xa3}, "3 entries"},
      {"non-minimal int", cat({{0xa2}, roots_key, {0x80}, version_key, {0x18, 0x01}}),
       "shortest form"},
      {"indefinite array", cat({{0xa2}, roots_key, {0x9f}}), "indefinite-length"},
      {"root without tag", cat({{0xa2}, roots_key, {0x81, 0x41, 0x00}}), "must be a tag"},
      {"wrong tag", cat({{0xa2}, roots_key, {0x81, 0xd8, 0x2b, 0x41, 0x00}}), "not 42"},
      {"no 0x00 prefix", cat({{0xa2}, roots_key, {0x81, 0xd8, 0x2a, 0x41, 0x01}}), "0x00 prefix"},
      {"bad root CID", cat({{0xa2}, roots_key, {0x81, 0xd8, 0x2a, 0x42, 0x00, 0x01}}), "root 0"},
      {"version not int", cat({{0xa2}, roots_key, {0x80}, version_key, {0x61, '1'}}),
       "\"version\" must be a unsigned integer"},
      {"trailing bytes", cat({{0xa2}, roots_key, {0x80}, version_key, {0x01, 0x00}}),
       "1 bytes after its CBOR map"},
      {"cut short", cat({{0xa2}, roots_key, {0x81, 0xd8, 0x2a, 0x58}}), "ends inside"},
      {"string past end", cat({{0xa2}, {0x65, 'r'}}), "runs past the end"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    auto r = parse(c.body);
    REQUIRE_FALSE(r);
    CHECK_MESSAGE(contains(r.status().message(), c.message), r.status().message());
  }
  CHECK(parse(cat({{0xa1}, version_key, {0x02}})).status().code() == Code::unsupported);
  CHECK(CarReader::from_buffer({}).status().message() == "CAR buffer is empty");
  CHECK(CarReader::from_buffer(Bytes{0x00}).status().message() == "CAR header length is 0");
}

TEST_CASE("car: 100k small blocks export and import quickly") {
  TempDir dir;
  const std::string path = dir.file("many.car");
  constexpr int kBlocks = 100000;
  auto w = CarWriter::create(path, {});
  REQUIRE(w);
  int failures = 0;  // counted by hand: a doctest assertion per block is slow
  for (int i = 0; i < kBlocks; ++i) {
    const std::string s = "block " + std::to_string(i);
    if (!w->add(Cid::of_block(as_bytes(s)), as_bytes(s)).is_ok()) ++failures;
  }
  REQUIRE(w->finish().is_ok());
  auto r = CarReader::open(path);
  REQUIRE(r);
  Cid cid;
  Bytes block;
  int n = 0;
  for (;;) {
    auto more = r->next(&cid, &block);
    if (!more) {
      ++failures;
      break;
    }
    if (!*more) break;
    ++n;
  }
  CHECK(failures == 0);
  CHECK(n == kBlocks);
  CHECK(cid == Cid::of_block(block));
}
