// Peer IDs (known answers computed outside this code base, the byte layout,
// every parse error), signatures, the identity file and the cluster secret.
#include <doctest/doctest.h>

#include "tests/unit/hex.h"
#include <sys/stat.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <string>

#include "crdt/multibase.h"
#include "net/identity.h"
#include "tests/unit/tempdir.h"

using namespace trellis;
using namespace trellis::net;
using trellis::testing::from_hex;

namespace {

template <class T>
std::string error_of(const Result<T>& r) {
  return r ? std::string() : r.status().message();
}

bool contains(const std::string& s, std::string_view part) {
  return s.find(part) != std::string::npos;
}

// RFC 8032 §7.1 TEST 1. The peer ID strings below were computed with
// Python's `cryptography` package and a hand-written base58/base32 encoder.
constexpr std::string_view kSeed =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
constexpr std::string_view kPublic =
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
constexpr std::string_view kPeerId = "12D3KooWQK1wnefoLrcVHbbnf5tLzbopUd3K3bFAoJpA7YJgL5pV";
constexpr std::string_view kPeerIdCid =
    "bafzaajaiaejcbv22taayfmikw7kux7wtzfsaooqo4fzphwvgems26aq2nd3qoui2";

void write_file(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream(path, std::ios::trunc) << text;
  REQUIRE(::chmod(path.c_str(), mode) == 0);
}

}  // namespace

TEST_SUITE("identity") {
  TEST_CASE("identity: peer ID known answer and byte layout") {
    const Identity id = Identity::from_seed(from_hex(kSeed));
    CHECK(to_hex(id.public_key()) == kPublic);
    // identity multihash (00, length 0x24) of protobuf {Type 1 (08 01), Data 32 bytes (12 20)}.
    Bytes expected = {0x00, 0x24, 0x08, 0x01, 0x12, 0x20};
    const Bytes pub = from_hex(kPublic);
    expected.insert(expected.end(), pub.begin(), pub.end());
    CHECK(id.id().bytes() == expected);
    CHECK(id.id().to_string() == kPeerId);
    CHECK(id.id().to_string().rfind("12D3KooW", 0) == 0);
    CHECK(base58_encode(expected) == kPeerId);

    auto parsed = PeerId::parse(kPeerId);
    REQUIRE_MESSAGE(parsed, error_of(parsed));
    CHECK(*parsed == id.id());
    auto from_cid = PeerId::parse(kPeerIdCid);
    REQUIRE_MESSAGE(from_cid, error_of(from_cid));
    CHECK(*from_cid == id.id());
    auto from_bytes = PeerId::from_bytes(expected);
    REQUIRE(from_bytes);
    CHECK(*from_bytes == id.id());

    CHECK(PeerId().is_empty());
    CHECK(PeerId().to_string().empty());
    CHECK(PeerId().bytes().empty());
  }

  TEST_CASE("identity: generated IDs round-trip through text and bytes") {
    for (int i = 0; i < 20; ++i) {
      const Identity id = Identity::generate();
      const std::string text = id.id().to_string();
      CHECK(text.rfind("12D3KooW", 0) == 0);
      auto back = PeerId::parse(text);
      REQUIRE(back);
      CHECK(*back == id.id());
      auto raw = PeerId::from_bytes(id.id().bytes());
      REQUIRE(raw);
      CHECK(*raw == id.id());
    }
    CHECK(Identity::generate().id() != Identity::generate().id());
  }

  TEST_CASE("identity: malformed and unsupported peer IDs") {
    CHECK(contains(error_of(PeerId::parse("")), "empty"));
    CHECK(PeerId::parse("hello").status().code() == Code::invalid_argument);
    CHECK(PeerId::parse(std::string(kPeerId) + "0").status().code() == Code::invalid_argument);
    CHECK(PeerId::parse(std::string(kPeerId).substr(0, 40)).status().code() ==
          Code::invalid_argument);
    CHECK(PeerId::parse(std::string(600, '1')).status().code() == Code::invalid_argument);

    // RSA-style peer ID: sha2-256 multihash ("Qm…").
    auto rsa = PeerId::parse("QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N");
    CHECK(rsa.status().code() == Code::unsupported);
    CHECK(contains(error_of(rsa), "only Ed25519"));
    // secp256k1: identity multihash of {Type 2, 33-byte key} ("16Uiu2…").
    auto secp = PeerId::parse("16Uiu2HAkuRgsVVjk3drXpeXXvuQrZai9RNup3ToH8wH1wXmuTnRC");
    CHECK(secp.status().code() == Code::unsupported);
    CHECK(contains(error_of(secp), "Secp256k1"));

    const Bytes good = Identity::generate().id().bytes();
    Bytes b = good;
    b.pop_back();  // truncated digest
    CHECK(PeerId::from_bytes(b).status().code() == Code::corrupt);
    b = good;
    b.push_back(0);  // trailing byte
    CHECK(PeerId::from_bytes(b).status().code() == Code::corrupt);
    b = good;
    b[0] = 0x13;  // sha2-512 code: not a peer ID multihash
    b[1] = 0x24;
    CHECK(contains(error_of(PeerId::from_bytes(b)), "must be identity"));
    b = good;
    b[2] = 0x10;  // not the Type field
    CHECK(contains(error_of(PeerId::from_bytes(b)), "Type field"));
    b = good;
    b[5] = 0x21;  // Data length that disagrees with the multihash
    CHECK(PeerId::from_bytes(b).status().code() == Code::corrupt);
    CHECK(PeerId::from_bytes({}).status().code() == Code::corrupt);

    // A CID, but dag-pb rather than libp2p-key.
    auto dagpb = PeerId::parse("bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi");
    CHECK(contains(error_of(dagpb), "libp2p-key"));
  }

  TEST_CASE("identity: signatures verify only for the signer and message") {
    const Identity a = Identity::generate(), b = Identity::generate();
    const Bytes msg = {'m', 's', 'g'};
    const Signature sig = a.sign(msg);
    CHECK(verify(a.id(), msg, sig));
    CHECK_FALSE(verify(b.id(), msg, sig));
    CHECK_FALSE(verify(a.id(), Bytes{'m', 's'}, sig));
    Signature bad = sig;
    bad[10] ^= 1;
    CHECK_FALSE(verify(a.id(), msg, bad));
    CHECK_FALSE(verify(a.id(), msg, ByteView(sig.data(), 63)));
    CHECK_FALSE(verify(PeerId(), msg, sig));
    // Ed25519 is deterministic: the same seed signs identically.
    CHECK(Identity::from_seed(from_hex(kSeed)).sign(msg) ==
          Identity::from_seed(from_hex(kSeed)).sign(msg));
  }

  TEST_CASE("identity: identity file round trip, mode and refusals") {
    testing::TempDir dir;
    const std::string path = dir.sub("identity.json");
    const Identity id = Identity::generate();
    REQUIRE(id.save(path));
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    auto loaded = Identity::load(path);
    REQUIRE_MESSAGE(loaded, error_of(loaded));
    CHECK(loaded->id() == id.id());
    CHECK(loaded->sign(Bytes{1}) == id.sign(Bytes{1}));
    // Saving again replaces the file atomically and leaves no temp files.
    REQUIRE(Identity::generate().save(path));
    size_t files = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++files;
    CHECK(files == 1);

    CHECK(Identity::load(dir.sub("missing.json")).status().code() == Code::not_found);

    REQUIRE(::chmod(path.c_str(), 0644) == 0);
    auto open = Identity::load(path);
    CHECK(contains(error_of(open), "mode 0644"));
    CHECK(contains(error_of(open), "chmod 600"));
    REQUIRE(::chmod(path.c_str(), 0640) == 0);
    CHECK(contains(error_of(Identity::load(path)), "mode 0640"));
  }

  TEST_CASE("identity: a libp2p-format identity file written by hand loads") {
    // protobuf {Type: Ed25519, Data: seed ‖ public key}, base64; the public
    // half and the ID were derived independently (Python `cryptography`).
    testing::TempDir dir;
    const std::string path = dir.sub("identity.json");
    write_file(path,
               R"({"id": "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq",
                 "private_key": "CAESQH4IMGF8Sn3oOSXfsmlFVrEpNsR3oOH+suFI7J2mD+59HtHo+uLEoUS4vo/UtHvz07NLhxw8rPYBDw5C1HT84n4="})",
               0600);
    auto loaded = Identity::load(path);
    REQUIRE_MESSAGE(loaded, error_of(loaded));
    CHECK(to_hex(loaded->public_key()) ==
          "1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e");
  }

  TEST_CASE("identity: malformed identity files say what is wrong") {
    testing::TempDir dir;
    const std::string path = dir.sub("identity.json");
    const Identity id = Identity::generate();
    REQUIRE(id.save(path));
    std::string good;
    {
      std::ifstream in(path);
      good.assign(std::istreambuf_iterator<char>(in), {});
    }
    const std::string other_id = Identity::generate().id().to_string();
    const std::string key = good.substr(good.find("\"private_key\""));

    const std::pair<std::string, std::string> cases[] = {
        {"{not json", "not valid JSON"},
        {"", "not valid JSON"},
        {"[1, 2]", "expected a JSON object"},
        {R"({"private_key": "AAAA"})", "missing string field \"id\""},
        {R"({"id": 5, "private_key": "AAAA"})", "missing string field \"id\""},
        {"{\"id\": \"" + id.id().to_string() + "\"}", "missing string field \"private_key\""},
        {"{\"id\": \"" + id.id().to_string() + "\", \"private_key\": \"!!!\"}", "not base64"},
        {"{\"id\": \"" + id.id().to_string() + "\", \"private_key\": \"CAESQA==\"}", "not base64"},
        {"{\"id\": \"nonsense\", " + key, "\"id\""},
        {"{\"id\": \"" + other_id + "\", " + key, "does not match the private key"},
    };
    for (const auto& c : cases) {
      // Named copies: clang cannot capture structured bindings in CAPTURE.
      const std::string& text = c.first;
      const std::string& want = c.second;
      CAPTURE(text);
      write_file(path, text, 0600);
      auto r = Identity::load(path);
      REQUIRE_FALSE(r);
      CHECK_MESSAGE(contains(error_of(r), want), error_of(r));
    }
    // The mismatch message names both IDs.
    write_file(path, "{\"id\": \"" + other_id + "\", " + key, 0600);
    const std::string msg = error_of(Identity::load(path));
    CHECK(contains(msg, other_id));
    CHECK(contains(msg, id.id().to_string()));
    // An RSA private key (Type 0) is refused as unsupported.
    write_file(path,
               "{\"id\": \"" + id.id().to_string() +
                   "\", \"private_key\": "
                   "\"CAASQH4IMGF8Sn3oOSXfsmlFVrEpNsR3oOH+suFI7J2mD+59HtHo+uLEoUS4vo/"
                   "UtHvz07NLhxw8rPYBDw5C1HT84n4=\"}",
               0600);
    CHECK(Identity::load(path).status().code() == Code::unsupported);
  }

  TEST_CASE("identity: cluster secret") {
    const ClusterSecret s = ClusterSecret::generate();
    const std::string hex = s.to_hex();
    CHECK(hex.size() == 64);
    CHECK(hex.find_first_not_of("0123456789abcdef") == std::string::npos);
    auto back = ClusterSecret::parse_hex(hex);
    REQUIRE(back);
    CHECK(*back == s);
    std::string upper = hex;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    auto up = ClusterSecret::parse_hex(upper);
    REQUIRE(up);
    CHECK(*up == s);
    CHECK(ClusterSecret::generate() != s);

    CHECK(contains(error_of(ClusterSecret::parse_hex(hex.substr(0, 63))), "64 hex characters"));
    CHECK(contains(error_of(ClusterSecret::parse_hex(hex + "00")), "got 66"));
    CHECK(contains(error_of(ClusterSecret::parse_hex("")), "got 0"));
    std::string bad = hex;
    bad[17] = 'g';
    CHECK(contains(error_of(ClusterSecret::parse_hex(bad)), "character 17"));
  }

}  // TEST_SUITE("identity")
