// Varints, multibase, multihash and CIDs: known vectors, the CIDv0/v1 pairs
// in tests/vectors/cid-pairs.json, and malformed input of every kind.
#include <doctest/doctest.h>

#include "tests/unit/hex.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_set>

#include "crdt/cid.h"
#include "crdt/multibase.h"
#include "crdt/multihash.h"
#include "crdt/varint.h"

using namespace trellis;
using trellis::testing::from_hex;

namespace {

Bytes bytes_of(std::string_view s) {
  auto v = as_bytes(s);
  return Bytes(v.begin(), v.end());
}

// The error message of a failed result, or "" if it succeeded.
template <class T>
std::string error_of(const Result<T>& r) {
  return r ? std::string() : r.status().message();
}

bool contains(const std::string& s, std::string_view part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("varint: edge values round-trip with minimal sizes") {
  const std::pair<uint64_t, size_t> cases[] = {
      {0, 1},   {1, 1},     {127, 1},   {128, 2},
      {300, 2}, {16383, 2}, {16384, 3}, {(uint64_t{1} << 63) - 1, 9},
  };
  for (auto [value, size] : cases) {
    Bytes b;
    put_uvarint(b, value);
    CHECK(b.size() == size);
    CHECK(uvarint_size(value) == size);
    b.push_back(0xff);  // trailing data must not be consumed
    size_t used = 0;
    auto r = read_uvarint(b, &used);
    REQUIRE(r);
    CHECK(*r == value);
    CHECK(used == size);
  }
  Bytes b;
  put_uvarint(b, 128);
  CHECK(b == Bytes{0x80, 0x01});
  b.clear();
  put_uvarint(b, 300);
  CHECK(b == Bytes{0xac, 0x02});
}

TEST_CASE("varint: malformed encodings are rejected") {
  size_t used = 0;
  CHECK(contains(error_of(read_uvarint({}, &used)), "empty"));
  CHECK(contains(error_of(read_uvarint(Bytes{0x80}, &used)), "truncated"));
  CHECK(contains(error_of(read_uvarint(Bytes{0xff, 0xff}, &used)), "truncated"));
  CHECK(contains(error_of(read_uvarint(Bytes{0x80, 0x00}, &used)), "not minimally encoded"));
  CHECK(contains(error_of(read_uvarint(Bytes{0x81, 0x80, 0x00}, &used)), "not minimally"));
  const Bytes ten(9, 0xff);
  CHECK(contains(error_of(read_uvarint(ten, &used)), "longer than 9 bytes"));
  Bytes max(8, 0xff);
  max.push_back(0x7f);
  auto r = read_uvarint(max, &used);
  REQUIRE(r);
  CHECK(*r == (uint64_t{1} << 63) - 1);
  CHECK(read_uvarint(Bytes{0x80}, &used).status().code() == Code::corrupt);
}

TEST_CASE("base32: RFC 4648 vectors, lower case, no padding") {
  const std::pair<const char*, const char*> cases[] = {
      {"", ""},
      {"f", "my"},
      {"fo", "mzxq"},
      {"foo", "mzxw6"},
      {"foob", "mzxw6yq"},
      {"fooba", "mzxw6ytb"},
      {"foobar", "mzxw6ytboi"},
  };
  for (auto [plain, coded] : cases) {
    CHECK(base32_encode(as_bytes(plain)) == coded);
    auto d = base32_decode(coded);
    REQUIRE(d);
    CHECK(*d == bytes_of(plain));
  }
  auto upper = base32_decode("MZXW6YTBOI");
  REQUIRE(upper);
  CHECK(*upper == bytes_of("foobar"));
}

TEST_CASE("base32: every length up to 64 bytes round-trips (five-byte groups and the rest)") {
  Bytes data;
  for (size_t n = 0; n <= 64; ++n) {
    CAPTURE(n);
    std::string text = base32_encode(data);
    CHECK(text.size() == base32_size(n));
    auto back = base32_decode(text);
    REQUIRE(back);
    CHECK(*back == data);
    data.push_back(static_cast<uint8_t>(n * 37 + 11));
  }
}

TEST_CASE("base32: malformed text is rejected with a precise message") {
  CHECK(error_of(base32_decode("mzx1")) == "base32: invalid character '1' at offset 3");
  CHECK(contains(error_of(base32_decode("my======")), "invalid character '='"));
  CHECK(contains(error_of(base32_decode("m")), "length 1"));
  CHECK(contains(error_of(base32_decode("mzx")), "length 3"));
  CHECK(contains(error_of(base32_decode("mzxW6")), "mixed upper and lower case"));
  // "my" is 'f' plus two zero pad bits; "mz" spells the same byte with pad bits 01.
  CHECK(contains(error_of(base32_decode("mz")), "non-zero trailing bits"));
  CHECK(base32_decode("mzxw6").is_ok());
  CHECK(base32_decode("mzxw7").status().message() ==
        "base32: non-zero trailing bits in the last character");
}

TEST_CASE("base58btc: known vectors, leading zero bytes") {
  const std::pair<const char*, const char*> cases[] = {
      {"", ""},
      {"61", "2g"},
      {"626262", "a3gV"},
      {"636363", "aPEr"},
      {"00", "1"},
      {"00000000000000000000", "1111111111"},
      {"0000287fb4cd", "11233QC4"},
      {"00eb15231dfceb60925886b67d065299925915aeb172c06647", "1NS17iag9jJgTHD1VXjvLCEnZuQ3rJDE9L"},
  };
  for (auto [hex, coded] : cases) {
    CHECK(base58_encode(from_hex(hex)) == coded);
    auto d = base58_decode(coded);
    REQUIRE(d);
    CHECK(*d == from_hex(hex));
  }
  CHECK(base58_encode(as_bytes("Hello World!")) == "2NEpo7TZRRrLZSi2U");
}

TEST_CASE("base58btc: bad characters and oversized text") {
  CHECK(error_of(base58_decode("abc0")) == "base58: invalid character '0' at offset 3");
  CHECK(contains(error_of(base58_decode("Il")), "invalid character 'I' at offset 0"));
  CHECK(contains(error_of(base58_decode(std::string("ab\xff", 3))), "byte 0xff at offset 2"));
  auto big = base58_decode(std::string(kMaxMultibaseText + 1, '2'));
  REQUIRE_FALSE(big);
  CHECK(big.status().code() == Code::too_large);
}

TEST_CASE("multibase: prefixes") {
  CHECK(multibase_encode('b', as_bytes("foobar")) == "bmzxw6ytboi");
  CHECK(multibase_encode('B', as_bytes("foobar")) == "BMZXW6YTBOI");
  CHECK(multibase_encode('z', as_bytes("Hello World!")) == "z2NEpo7TZRRrLZSi2U");
  for (const char* s : {"bmzxw6ytboi", "BMZXW6YTBOI"}) {
    auto d = multibase_decode(s);
    REQUIRE(d);
    CHECK(*d == bytes_of("foobar"));
  }
  CHECK(error_of(multibase_decode("bmzx1")) == "base32: invalid character '1' at offset 4");
  CHECK(contains(error_of(multibase_decode("bMZXW6")), "prefix 'b' means lower case"));
  CHECK(contains(error_of(multibase_decode("Bmzxw6")), "prefix 'B' means upper case"));
  CHECK(error_of(multibase_decode("")) == "multibase text is empty");
  auto f = multibase_decode("f666f6f");
  REQUIRE_FALSE(f);
  CHECK(f.status().code() == Code::unsupported);
  CHECK(contains(f.status().message(), "unsupported prefix 'f'"));
}

TEST_CASE("multihash: sha2-256 and identity") {
  auto empty = Multihash::sha256({});
  CHECK(empty.code == kHashSha256);
  CHECK(to_hex(empty.digest) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  auto abc = Multihash::sha256(as_bytes("abc"));
  CHECK(to_hex(abc.digest) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(to_hex(abc.encode()) ==
        "1220ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  auto back = Multihash::decode(abc.encode());
  REQUIRE(back);
  CHECK(*back == abc);

  auto id = Multihash::identity(as_bytes("hi"));
  CHECK(id.encode() == Bytes{0x00, 0x02, 'h', 'i'});
  auto id_back = Multihash::decode(id.encode());
  REQUIRE(id_back);
  CHECK(*id_back == id);
  CHECK(Multihash::decode(Bytes{0x00, 0x00}).is_ok());  // empty identity digest

  // Other hash codes decode generically: sha2-512 with 64 bytes.
  Bytes sha512{0x13, 0x40};
  sha512.resize(66, 7);
  auto other = Multihash::decode(sha512);
  REQUIRE(other);
  CHECK(other->code == 0x13);
  CHECK(other->digest.size() == 64);
}

TEST_CASE("multihash: bad lengths and framing") {
  Bytes short_sha{0x12, 0x1f};
  short_sha.resize(33, 1);
  CHECK(error_of(Multihash::decode(short_sha)) ==
        "multihash digest length 31 does not match sha2-256's 32");
  Bytes truncated{0x12, 0x20, 1, 2, 3};
  CHECK(contains(error_of(Multihash::decode(truncated)), "truncated"));
  Bytes trailing = Multihash::sha256({}).encode();
  trailing.push_back(0);
  CHECK(error_of(Multihash::decode(trailing)) == "multihash has 1 trailing bytes");
  Bytes long_identity{0x00, 0x41};
  long_identity.resize(2 + 65, 0);
  auto li = Multihash::decode(long_identity);
  REQUIRE_FALSE(li);
  CHECK(li.status().code() == Code::too_large);
  Bytes long_other{0x13, 0x41};
  long_other.resize(2 + 65, 0);
  CHECK(Multihash::decode(long_other).status().code() == Code::too_large);
  CHECK(contains(error_of(Multihash::decode({})), "empty"));
  CHECK(contains(error_of(Multihash::decode(Bytes{0x12})), "length"));
  CHECK(contains(error_of(Multihash::decode(Bytes{0x80, 0x00, 0x00})), "not minimally"));
}

TEST_CASE("cid: every pair in tests/vectors/cid-pairs.json converts both ways") {
  std::ifstream in(std::string(TRELLIS_SOURCE_DIR) + "/tests/vectors/cid-pairs.json");
  REQUIRE(in.good());
  const auto doc = nlohmann::json::parse(in);
  const auto& pairs = doc.at("pairs");
  REQUIRE(pairs.size() > 0);
  for (const auto& pair : pairs) {
    const std::string v0_text = pair.at("cidv0");
    const std::string v1_text = pair.at("cidv1");
    CAPTURE(v0_text);
    auto v0 = Cid::parse(v0_text);
    REQUIRE_MESSAGE(v0, error_of(v0));
    CHECK(v0->version() == 0);
    CHECK(v0->codec() == kCodecDagPb);
    CHECK(v0->hash().code == kHashSha256);
    CHECK(v0->to_string() == v0_text);
    CHECK(v0->to_v1().to_string() == v1_text);

    auto v1 = Cid::parse(v1_text);
    REQUIRE_MESSAGE(v1, error_of(v1));
    CHECK(v1->version() == 1);
    CHECK(v1->codec() == kCodecDagPb);
    CHECK(v1->hash() == v0->hash());
    CHECK(v1->to_string() == v1_text);
    auto back = v1->to_v0();
    REQUIRE(back);
    CHECK(back->to_string() == v0_text);
    CHECK(*back == *v0);

    for (const Cid* c : {&*v0, &*v1}) {
      auto again = Cid::from_bytes(c->bytes());
      REQUIRE(again);
      CHECK(*again == *c);
      CHECK(again->to_string() == c->to_string());
      auto z = Cid::parse(c->to_base58());
      REQUIRE(z);
      CHECK(*z == *c);
    }
  }
}

TEST_CASE("cid: messagepack CIDs of blocks") {
  const Cid c = Cid::of_block(as_bytes("\x81\xa1k\xa1v"));
  CHECK(c.version() == 1);
  CHECK(c.codec() == kCodecMessagePack);
  CHECK(c.codec() == 0x0201);
  CHECK(c.hash() == Multihash::sha256(as_bytes("\x81\xa1k\xa1v")));
  CHECK(to_hex(c.bytes()).rfind("0181041220", 0) == 0);  // 0x0201 as a varint is 81 04
  const std::string text = c.to_string();
  CHECK(text.rfind("bagaqier", 0) == 0);  // 01 81 04 12 20 in base32
  auto parsed = Cid::parse(text);
  REQUIRE(parsed);
  CHECK(*parsed == c);
  auto upper = Cid::parse(multibase_encode('B', c.bytes()));
  REQUIRE(upper);
  CHECK(*upper == c);
  CHECK(contains(error_of(c.to_v0()), "dag-pb over sha2-256"));
  CHECK(contains(error_of(c.to_v0()), "messagepack"));
  CHECK(c.to_v1() == c);
}

TEST_CASE("cid: known raw CID and identity CIDs") {
  // sha2-256("aaaa") as a raw CIDv1, as in the CARv1 spec fixture.
  const Cid raw = Cid::sha256(kCodecRaw, as_bytes("aaaa"));
  CHECK(to_hex(raw.bytes()) ==
        "0155122061be55a8e2f6b4e172338bddf184d6dbee29c98853e0a0485ecee7f27b9af0b4");
  const Cid id = Cid::v1(kCodecRaw, Multihash::identity(as_bytes("x")));
  CHECK(id.bytes() == Bytes{0x01, 0x55, 0x00, 0x01, 'x'});
  auto back = Cid::parse(id.to_string());
  REQUIRE(back);
  CHECK(*back == id);
  CHECK(contains(error_of(id.to_v0()), "dag-pb over sha2-256"));
}

TEST_CASE("cid: malformed text is rejected") {
  const std::string v0 = "QmcHSfrRLPo5sYrMrMwXwH1texhkkJ7YaGRcy4Y57oJfvy";
  const std::string v1 = "bafybeigpgfbr2boeqhmubfbqtlfkfbsil4xmtynhaabtj2vuzgprblkeli";
  CHECK(error_of(Cid::parse("")) == "CID text is empty");
  CHECK(contains(error_of(Cid::parse("x" + v1.substr(1))), "multibase prefix"));
  CHECK(contains(error_of(Cid::parse("f01551220")), "multibase prefix"));
  CHECK(contains(error_of(Cid::parse(v0.substr(0, 45))), "46 characters"));
  CHECK(contains(error_of(Cid::parse(v0 + "a")), "46 characters"));
  CHECK(contains(error_of(Cid::parse(v0.substr(0, 45) + "0")), "invalid character '0'"));
  CHECK(contains(error_of(Cid::parse(v1.substr(0, 10) + "1" + v1.substr(11))),
                 "invalid character '1' at offset 10"));
  CHECK(contains(error_of(Cid::parse(v1.substr(0, v1.size() - 2))), "truncated"));
  CHECK(contains(error_of(Cid::parse(v1.substr(0, v1.size() - 1))), "impossible"));
  CHECK(contains(error_of(Cid::parse("b")), "nothing after"));
  // A CIDv0 multihash wrapped in multibase is not a CID.
  auto v0cid = Cid::parse(v0);
  REQUIRE(v0cid);
  CHECK(contains(error_of(Cid::parse(multibase_encode('b', v0cid->bytes()))),
                 "must not be multibase"));
  // Version 2 is reserved; other versions are invalid.
  Bytes v2 = v0cid->to_v1().bytes();
  v2[0] = 2;
  auto r2 = Cid::parse(multibase_encode('b', v2));
  REQUIRE_FALSE(r2);
  CHECK(r2.status().code() == Code::unsupported);
  v2[0] = 5;
  CHECK(Cid::parse(multibase_encode('b', v2)).status().code() == Code::invalid_argument);
  // Trailing bytes after a CIDv1.
  Bytes extra = v0cid->to_v1().bytes();
  extra.push_back(0);
  CHECK(error_of(Cid::parse(multibase_encode('b', extra))) == "CIDv1 has 1 trailing bytes");
  CHECK(Cid::parse(std::string(kMaxMultibaseText + 1, 'b')).status().code() == Code::too_large);
}

TEST_CASE("cid: malformed binary is rejected") {
  const Cid good = Cid::sha256(kCodecDagCbor, as_bytes("x"));
  CHECK(error_of(Cid::from_bytes({})) == "CID bytes are empty");
  Bytes b = good.bytes();
  b.pop_back();
  CHECK(contains(error_of(Cid::from_bytes(b)), "truncated"));
  b = good.bytes();
  b.push_back(1);
  CHECK(error_of(Cid::from_bytes(b)) == "CIDv1 has 1 trailing bytes");
  b = good.bytes();
  b[3] = 31;  // digest length byte
  CHECK(contains(error_of(Cid::from_bytes(b)), "length 31 does not match sha2-256's 32"));
  b = good.bytes();
  b[0] = 0;
  CHECK(contains(error_of(Cid::from_bytes(b)), "CID version 0"));
  CHECK(Cid::from_bytes(Bytes(kMaxCidBytes + 1, 1)).status().code() == Code::too_large);
  CHECK(Cid::from_bytes(Bytes{0x01}).status().code() == Code::corrupt);

  const Cid pb = Cid::sha256(kCodecDagPb, as_bytes("x"));
  auto as_v0 = pb.to_v0();
  REQUIRE(as_v0);
  Bytes v0 = as_v0->bytes();
  CHECK(v0.size() == 34);
  v0.push_back(0);
  CHECK(contains(error_of(Cid::from_bytes(v0)), "CIDv0 has 1 trailing bytes"));
  v0.resize(20);
  CHECK(contains(error_of(Cid::from_bytes(v0)), "CIDv0 is truncated"));
  CHECK(contains(error_of(Cid::from_bytes(Bytes{0x12, 0x14, 1})), "must be a CIDv0"));

  // read_prefix reports how much it used and leaves the rest.
  Bytes section = good.bytes();
  section.insert(section.end(), {9, 9, 9});
  size_t used = 0;
  auto p = Cid::read_prefix(section, &used);
  REQUIRE(p);
  CHECK(used == good.bytes().size());
  CHECK(*p == good);
}

TEST_CASE("cid: hashing and ordering for containers") {
  std::unordered_set<Cid, CidHash> set;
  for (int i = 0; i < 100; ++i) set.insert(Cid::of_block(as_bytes(std::to_string(i))));
  set.insert(Cid::v1(kCodecRaw, Multihash::identity(as_bytes("a"))));
  CHECK(set.size() == 101);
  CHECK(set.count(Cid::of_block(as_bytes("42"))) == 1);
  CHECK(set.count(Cid::v1(kCodecRaw, Multihash::identity(as_bytes("a")))) == 1);
  const Cid a = Cid::of_block(as_bytes("a"));
  CHECK(a == Cid::of_block(as_bytes("a")));
  CHECK((a < Cid::of_block(as_bytes("b")) || Cid::of_block(as_bytes("b")) < a));
  CHECK(Cid().empty());
  CHECK(Cid().to_string().empty());
}
