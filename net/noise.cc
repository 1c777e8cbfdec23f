#include "net/noise.h"

#include <sodium.h>

#include <cstdlib>
#include <cstring>
#include <initializer_list>

namespace trellis::net {
namespace {

void ensure_sodium() {
  // Idempotent; fails only when the system RNG is unusable, which leaves
  // nothing sane to do.
  static const bool ready = sodium_init() >= 0;
  if (!ready) std::abort();
}

// --- Handshake patterns (§7) -----------------------------------------------

enum Token : uint8_t { kE, kS, kEE, kES, kSE, kSS, kPsk };

struct MessagePattern {
  size_t n = 0;
  std::array<Token, 4> tokens{};
};

struct PatternDef {
  NoisePattern id;
  std::string_view name;
  bool needs_static;
  bool psk;
  size_t count;
  std::array<MessagePattern, 3> messages;
};

// None of the three has pre-messages. Even-indexed messages go initiator →
// responder.
constexpr PatternDef kPatterns[] = {
    {NoisePattern::NN, "NN", false, false, 2, {{{1, {kE}}, {2, {kE, kEE}}, {}}}},
    {NoisePattern::XX,
     "XX",
     true,
     false,
     3,
     {{{1, {kE}}, {4, {kE, kEE, kS, kES}}, {2, {kS, kSE}}}}},
    {NoisePattern::XXpsk3,
     "XXpsk3",
     true,
     true,
     3,
     {{{1, {kE}}, {4, {kE, kEE, kS, kES}}, {3, {kS, kSE, kPsk}}}}},
};

const PatternDef& pattern_def(NoisePattern p) {
  for (const auto& d : kPatterns) {
    if (d.id == p) return d;
  }
  std::abort();  // unreachable: every enumerator has a row
}

// --- Hash, HMAC and HKDF (§4.3) --------------------------------------------

size_t block_len(NoiseHash h) {
  return h == NoiseHash::SHA256 ? 64 : 128;
}
size_t hash_len(NoiseHash h) {
  return h == NoiseHash::SHA256 ? 32 : 64;
}

// Incremental HASH(); carries both libsodium states so no allocation or
// union bookkeeping is needed (it only ever lives on the stack).
class Hasher {
 public:
  explicit Hasher(NoiseHash kind) : kind_(kind) {
    if (kind_ == NoiseHash::SHA256) {
      crypto_hash_sha256_init(&sha_);
    } else {
      crypto_generichash_blake2b_init(&b2_, nullptr, 0, 64);
    }
  }
  void update(ByteView d) {
    if (kind_ == NoiseHash::SHA256) {
      crypto_hash_sha256_update(&sha_, d.data(), d.size());
    } else {
      crypto_generichash_blake2b_update(&b2_, d.data(), d.size());
    }
  }
  void final(uint8_t* out) {
    if (kind_ == NoiseHash::SHA256) {
      crypto_hash_sha256_final(&sha_, out);
    } else {
      crypto_generichash_blake2b_final(&b2_, out, 64);
    }
  }

 private:
  NoiseHash kind_;
  crypto_hash_sha256_state sha_;
  crypto_generichash_blake2b_state b2_;
};

// HMAC-HASH(key, data…) per RFC 2104 with the hash's BLOCKLEN; writes
// HASHLEN bytes to out.
void hmac(NoiseHash kind, ByteView key, std::initializer_list<ByteView> data, uint8_t* out) {
  const size_t block = block_len(kind);
  std::array<uint8_t, 128> k{};
  if (key.size() > block) {
    Hasher kh(kind);
    kh.update(key);
    kh.final(k.data());
  } else if (!key.empty()) {
    std::memcpy(k.data(), key.data(), key.size());
  }
  std::array<uint8_t, 128> pad{};
  std::array<uint8_t, kNoiseMaxHashLen> inner_hash{};
  for (size_t i = 0; i < block; ++i) pad[i] = static_cast<uint8_t>(k[i] ^ 0x36);
  Hasher inner(kind);
  inner.update({pad.data(), block});
  for (ByteView d : data) inner.update(d);
  inner.final(inner_hash.data());
  for (size_t i = 0; i < block; ++i) pad[i] = static_cast<uint8_t>(k[i] ^ 0x5c);
  Hasher outer(kind);
  outer.update({pad.data(), block});
  outer.update({inner_hash.data(), hash_len(kind)});
  outer.final(out);
  sodium_memzero(k.data(), k.size());
  sodium_memzero(pad.data(), pad.size());
  sodium_memzero(inner_hash.data(), inner_hash.size());
}

void make_nonce(uint64_t n, uint8_t nonce[12]) {
  std::memset(nonce, 0, 4);
  for (int i = 0; i < 8; ++i) nonce[4 + i] = static_cast<uint8_t>(n >> (8 * i));
}

constexpr uint64_t kMaxNonce = ~uint64_t{0};  // reserved for rekey

}  // namespace

// --- NoiseProtocol ---------------------------------------------------------

Result<NoiseProtocol> NoiseProtocol::parse(std::string_view name) {
  const std::string_view kPrefix = "Noise_";
  if (name.substr(0, kPrefix.size()) != kPrefix) {
    return Status(Code::unsupported, "not a Noise protocol name: \"" + std::string(name) + "\"");
  }
  std::string_view rest = name.substr(kPrefix.size());
  const size_t us = rest.find('_');
  if (us == std::string_view::npos) {
    return Status(Code::unsupported, "malformed Noise protocol name \"" + std::string(name) + "\"");
  }
  NoiseProtocol p;
  const std::string_view pattern = rest.substr(0, us);
  bool found = false;
  for (const auto& d : kPatterns) {
    if (d.name == pattern) {
      p.pattern = d.id;
      found = true;
    }
  }
  if (!found) {
    return Status(Code::unsupported, "unsupported Noise pattern \"" + std::string(pattern) +
                                         "\" (supported: NN, XX, XXpsk3)");
  }
  const std::string_view suite = rest.substr(us);
  if (suite == "_25519_ChaChaPoly_SHA256") {
    p.hash = NoiseHash::SHA256;
  } else if (suite == "_25519_ChaChaPoly_BLAKE2b") {
    p.hash = NoiseHash::BLAKE2b;
  } else {
    return Status(Code::unsupported,
                  "unsupported Noise suite \"" + std::string(suite.substr(1)) +
                      "\" (supported: 25519_ChaChaPoly_SHA256, 25519_ChaChaPoly_BLAKE2b)");
  }
  return p;
}

std::string NoiseProtocol::name() const {
  return "Noise_" + std::string(pattern_def(pattern).name) + "_25519_ChaChaPoly_" +
         (hash == NoiseHash::SHA256 ? "SHA256" : "BLAKE2b");
}

// --- NoiseKeyPair ----------------------------------------------------------

NoiseKeyPair NoiseKeyPair::generate() {
  ensure_sodium();
  DhKey priv;
  randombytes_buf(priv.data(), priv.size());
  NoiseKeyPair kp = from_private(priv);
  sodium_memzero(priv.data(), priv.size());
  return kp;
}

NoiseKeyPair NoiseKeyPair::from_private(const DhKey& priv) {
  ensure_sodium();
  NoiseKeyPair kp;
  kp.priv = priv;
  // Fails only for an all-zero result, which a clamped scalar times the
  // base point never gives.
  if (crypto_scalarmult_curve25519_base(kp.pub.data(), kp.priv.data()) != 0) std::abort();
  return kp;
}

NoiseKeyPair::~NoiseKeyPair() {
  sodium_memzero(priv.data(), priv.size());
}

// --- CipherState -----------------------------------------------------------

CipherState::~CipherState() {
  sodium_memzero(k_.data(), k_.size());
}

void CipherState::initialize_key(const uint8_t* key32) {
  std::memcpy(k_.data(), key32, k_.size());
  has_key_ = true;
  n_ = 0;
}

Status CipherState::encrypt_with_ad(ByteView ad, ByteView plaintext, uint8_t* out) {
  if (!has_key_) {
    if (!plaintext.empty()) std::memmove(out, plaintext.data(), plaintext.size());
    return Status::ok();
  }
  if (n_ == kMaxNonce) return corrupt("cipher nonce exhausted: no more messages with this key");
  uint8_t nonce[12];
  make_nonce(n_, nonce);
  crypto_aead_chacha20poly1305_ietf_encrypt_detached(out, out + plaintext.size(), nullptr,
                                                     plaintext.data(), plaintext.size(), ad.data(),
                                                     ad.size(), nullptr, nonce, k_.data());
  ++n_;
  return Status::ok();
}

Status CipherState::decrypt_with_ad(ByteView ad, ByteView ciphertext, uint8_t* out) {
  if (!has_key_) {
    if (!ciphertext.empty()) std::memmove(out, ciphertext.data(), ciphertext.size());
    return Status::ok();
  }
  if (ciphertext.size() < kNoiseTag) {
    return corrupt("ciphertext of " + std::to_string(ciphertext.size()) +
                   " bytes is shorter than the 16-byte tag");
  }
  if (n_ == kMaxNonce) return corrupt("cipher nonce exhausted: no more messages with this key");
  uint8_t nonce[12];
  make_nonce(n_, nonce);
  const size_t len = ciphertext.size() - kNoiseTag;
  if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(out, nullptr, ciphertext.data(), len,
                                                         ciphertext.data() + len, ad.data(),
                                                         ad.size(), nonce, k_.data()) != 0) {
    return corrupt("decryption failed (authentication tag mismatch)");
  }
  ++n_;
  return Status::ok();
}

void CipherState::rekey() {
  std::array<uint8_t, kNoiseKeyLen> zeros{}, next{};
  uint8_t tag[kNoiseTag];
  uint8_t nonce[12];
  make_nonce(kMaxNonce, nonce);
  crypto_aead_chacha20poly1305_ietf_encrypt_detached(
      next.data(), tag, nullptr, zeros.data(), zeros.size(), nullptr, 0, nullptr, nonce, k_.data());
  k_ = next;
  sodium_memzero(next.data(), next.size());
}

// --- HandshakeState --------------------------------------------------------

HandshakeState::~HandshakeState() {
  sodium_memzero(ck_.data(), ck_.size());
  if (psk_) sodium_memzero(psk_->data(), psk_->size());
}

Result<HandshakeState> HandshakeState::create(const NoiseConfig& config) {
  ensure_sodium();
  const PatternDef& def = pattern_def(config.protocol.pattern);
  const std::string name = config.protocol.name();
  if (def.needs_static && !config.s) return invalid(name + " needs a local static key");
  if (!def.needs_static && config.s) return invalid(name + " takes no static key");
  if (def.psk && !config.psk) return invalid(name + " needs a pre-shared key");
  if (!def.psk && config.psk) return invalid(name + " takes no pre-shared key");

  HandshakeState hs;
  hs.hash_ = config.protocol.hash;
  hs.hash_len_ = hash_len(hs.hash_);
  hs.pattern_ = static_cast<int>(&def - kPatterns);
  hs.initiator_ = config.initiator;
  hs.s_ = config.s;
  hs.fixed_e_ = config.e;
  hs.psk_ = config.psk;
  // InitializeSymmetric: the name itself when it fits in HASHLEN, else its
  // hash; ck starts equal to h.
  if (name.size() <= hs.hash_len_) {
    std::memcpy(hs.h_.data(), name.data(), name.size());
  } else {
    hs.hash_into(hs.h_.data(), as_bytes(name), {});
  }
  hs.ck_ = hs.h_;
  hs.mix_hash(config.prologue);
  return hs;
}

bool HandshakeState::my_turn() const {
  if (pattern_ < 0 || failed_ || index_ >= kPatterns[pattern_].count) return false;
  return (index_ % 2 == 0) == initiator_;
}

bool HandshakeState::done() const {
  return pattern_ >= 0 && !failed_ && index_ == kPatterns[pattern_].count;
}

Status HandshakeState::fail(Status s) {
  failed_ = true;
  return s;
}

void HandshakeState::hash_into(uint8_t* out, ByteView a, ByteView b) const {
  Hasher hh(hash_);
  hh.update(a);
  hh.update(b);
  hh.final(out);
}

void HandshakeState::mix_hash(ByteView data) {
  hash_into(h_.data(), {h_.data(), hash_len_}, data);
}

void HandshakeState::hkdf(ByteView ikm, uint8_t* out1, uint8_t* out2, uint8_t* out3) const {
  std::array<uint8_t, kNoiseMaxHashLen> temp_key{};
  const uint8_t one = 1, two = 2, three = 3;
  hmac(hash_, {ck_.data(), hash_len_}, {ikm}, temp_key.data());
  const ByteView tk(temp_key.data(), hash_len_);
  hmac(hash_, tk, {{&one, 1}}, out1);
  hmac(hash_, tk, {{out1, hash_len_}, {&two, 1}}, out2);
  if (out3 != nullptr) hmac(hash_, tk, {{out2, hash_len_}, {&three, 1}}, out3);
  sodium_memzero(temp_key.data(), temp_key.size());
}

void HandshakeState::mix_key(ByteView ikm) {
  std::array<uint8_t, kNoiseMaxHashLen> ck{}, k{};
  hkdf(ikm, ck.data(), k.data(), nullptr);
  ck_ = ck;
  cipher_.initialize_key(k.data());  // the first 32 bytes: truncation for 64-byte hashes
  sodium_memzero(ck.data(), ck.size());
  sodium_memzero(k.data(), k.size());
}

void HandshakeState::mix_key_and_hash(ByteView ikm) {
  std::array<uint8_t, kNoiseMaxHashLen> ck{}, h{}, k{};
  hkdf(ikm, ck.data(), h.data(), k.data());
  ck_ = ck;
  mix_hash({h.data(), hash_len_});
  cipher_.initialize_key(k.data());
  sodium_memzero(ck.data(), ck.size());
  sodium_memzero(k.data(), k.size());
}

Status HandshakeState::mix_dh(const std::optional<NoiseKeyPair>& local,
                              const std::optional<DhKey>& remote) {
  // The pattern tables guarantee both keys exist by the time a DH token
  // runs; the check keeps a table mistake from becoming a crash.
  if (!local || !remote) return fail(invalid("internal: DH token before its keys are known"));
  DhKey out;
  // libsodium refuses an all-zero output, i.e. a low-order remote point
  // that would make the DH contribute nothing.
  if (crypto_scalarmult_curve25519(out.data(), local->priv.data(), remote->data()) != 0) {
    return fail(corrupt("remote DH public key is a low-order point"));
  }
  mix_key(out);
  sodium_memzero(out.data(), out.size());
  return Status::ok();
}

Status HandshakeState::run_dh_token(int token) {
  switch (token) {
    case kEE:
      return mix_dh(e_, re_);
    case kES:
      return initiator_ ? mix_dh(e_, rs_) : mix_dh(s_, re_);
    case kSE:
      return initiator_ ? mix_dh(s_, re_) : mix_dh(e_, rs_);
    case kSS:
      return mix_dh(s_, rs_);
  }
  return fail(invalid("internal: not a DH token"));
}

Status HandshakeState::check_turn(bool writing) const {
  if (pattern_ < 0) return invalid("handshake state was never initialized");
  if (failed_) return invalid("handshake already failed; start a new one");
  if (index_ >= kPatterns[pattern_].count) return invalid("handshake is already complete");
  if (my_turn() != writing) {
    return invalid(std::string("handshake message ") + std::to_string(index_ + 1) +
                   (writing ? " is the peer's to write" : " is ours to write, not to read"));
  }
  return Status::ok();
}

Status HandshakeState::write_message(ByteView payload, Bytes& out) {
  if (Status st = check_turn(true); !st) return fail(std::move(st));
  const PatternDef& def = kPatterns[pattern_];
  const MessagePattern& mp = def.messages[index_];
  const size_t start = out.size();
  for (size_t i = 0; i < mp.n; ++i) {
    switch (mp.tokens[i]) {
      case kE: {
        e_ = fixed_e_ ? *fixed_e_ : NoiseKeyPair::generate();
        out.insert(out.end(), e_->pub.begin(), e_->pub.end());
        mix_hash(e_->pub);
        if (def.psk) mix_key(e_->pub);  // §9.2: e doubles as a key input
        break;
      }
      case kS: {
        if (!s_) return fail(invalid("internal: s token without a static key"));
        const size_t at = out.size();
        out.resize(at + kNoiseDhLen + cipher_.overhead());
        TRELLIS_TRY(encrypt_and_hash(s_->pub, out.data() + at, out.size() - at));
        break;
      }
      case kPsk:
        mix_key_and_hash(*psk_);
        break;
      default:
        TRELLIS_TRY(run_dh_token(mp.tokens[i]));
    }
  }
  const size_t at = out.size();
  if (at - start + payload.size() + cipher_.overhead() > kNoiseMaxMessage) {
    out.resize(start);
    return fail(too_large("handshake message would exceed " + std::to_string(kNoiseMaxMessage) +
                          " bytes (payload of " + std::to_string(payload.size()) + ")"));
  }
  out.resize(at + payload.size() + cipher_.overhead());
  TRELLIS_TRY(encrypt_and_hash(payload, out.data() + at, out.size() - at));
  ++index_;
  return Status::ok();
}

Status HandshakeState::encrypt_and_hash(ByteView plaintext, uint8_t* out, size_t out_len) {
  if (Status st = cipher_.encrypt_with_ad({h_.data(), hash_len_}, plaintext, out); !st) {
    return fail(std::move(st));
  }
  mix_hash({out, out_len});
  return Status::ok();
}

Status HandshakeState::read_message(ByteView message, Bytes& payload) {
  payload.clear();
  if (Status st = check_turn(false); !st) return fail(std::move(st));
  const std::string which = "handshake message " + std::to_string(index_ + 1);
  if (message.size() > kNoiseMaxMessage) {
    return fail(too_large(which + " of " + std::to_string(message.size()) +
                          " bytes exceeds the Noise limit of " + std::to_string(kNoiseMaxMessage)));
  }
  const PatternDef& def = kPatterns[pattern_];
  const MessagePattern& mp = def.messages[index_];
  size_t pos = 0;
  auto take = [&](size_t n, const char* what) -> Result<ByteView> {
    if (message.size() - pos < n) {
      return corrupt(which + " is truncated: " + what + " needs " + std::to_string(n) + " bytes, " +
                     std::to_string(message.size() - pos) + " remain");
    }
    ByteView v = message.subspan(pos, n);
    pos += n;
    return v;
  };
  for (size_t i = 0; i < mp.n; ++i) {
    switch (mp.tokens[i]) {
      case kE: {
        auto v = take(kNoiseDhLen, "the ephemeral key");
        if (!v) return fail(v.status());
        DhKey re;
        std::memcpy(re.data(), v->data(), re.size());
        re_ = re;
        mix_hash(*v);
        if (def.psk) mix_key(*v);
        break;
      }
      case kS: {
        auto v = take(kNoiseDhLen + cipher_.overhead(), "the static key");
        if (!v) return fail(v.status());
        DhKey rs;
        if (!cipher_.decrypt_with_ad({h_.data(), hash_len_}, *v, rs.data())) {
          return fail(corrupt(which + ": the static key did not decrypt"));
        }
        mix_hash(*v);
        rs_ = rs;
        break;
      }
      case kPsk:
        mix_key_and_hash(*psk_);
        break;
      default:
        if (Status st = run_dh_token(mp.tokens[i]); !st) {
          return fail(Status(st.code(), which + ": " + st.message()));
        }
    }
  }
  const ByteView rest = message.subspan(pos);
  if (rest.size() < cipher_.overhead()) {
    return fail(corrupt(which + " is truncated: " + std::to_string(rest.size()) +
                        " bytes left for a payload that needs at least " +
                        std::to_string(cipher_.overhead())));
  }
  payload.resize(rest.size() - cipher_.overhead());
  if (!cipher_.decrypt_with_ad({h_.data(), hash_len_}, rest, payload.data())) {
    payload.clear();
    return fail(corrupt(which + ": the payload did not decrypt"));
  }
  mix_hash(rest);
  ++index_;
  return Status::ok();
}

Result<NoiseSplit> HandshakeState::split() const {
  if (!done()) return invalid("Split() before the handshake completed");
  std::array<uint8_t, kNoiseMaxHashLen> k1{}, k2{};
  hkdf({}, k1.data(), k2.data(), nullptr);
  NoiseSplit out;
  out.c1.initialize_key(k1.data());
  out.c2.initialize_key(k2.data());
  sodium_memzero(k1.data(), k1.size());
  sodium_memzero(k2.data(), k2.size());
  return out;
}

}  // namespace trellis::net
