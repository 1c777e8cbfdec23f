#include "crdt/multibase.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cstdio>

namespace trellis {
namespace {

constexpr char kBase32Lower[] = "abcdefghijklmnopqrstuvwxyz234567";
constexpr char kBase58[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

// "'x'" for printable ASCII, "byte 0xNN" otherwise, so error messages stay
// readable whatever the input holds.
std::string describe_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u > 0x20 && u < 0x7f) return std::string("'") + c + "'";
  char buf[16];
  std::snprintf(buf, sizeof buf, "byte 0x%02x", u);
  return buf;
}

std::string at(size_t offset) {
  return " at offset " + std::to_string(offset);
}

// Value of a base32 letter or digit regardless of case; -1 if not in the
// alphabet.
int base32_value(char c) {
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}

int base58_value(char c) {
  static const auto table = [] {
    std::array<int8_t, 256> t{};
    t.fill(-1);
    for (int i = 0; i < 58; ++i) t[static_cast<unsigned char>(kBase58[i])] = static_cast<int8_t>(i);
    return t;
  }();
  return table[static_cast<unsigned char>(c)];
}

enum class Case { lower, upper, consistent };

// Decodes unpadded RFC 4648 base32. `base` is added to offsets in errors so
// they point into the caller's whole text (e.g. after a multibase prefix).
Result<Bytes> decode32(std::string_view s, Case want, size_t base) {
  const size_t rem = s.size() % 8;
  if (rem == 1 || rem == 3 || rem == 6) {
    return invalid("base32: length " + std::to_string(s.size()) +
                   " is impossible for unpadded base32");
  }
  Bytes out;
  out.reserve(s.size() * 5 / 8);
  uint32_t acc = 0;
  int bits = 0;
  int seen_case = 0;  // 0 none yet, 1 lower, 2 upper
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const int v = base32_value(c);
    if (v < 0) return invalid("base32: invalid character " + describe_char(c) + at(base + i));
    if (v < 26) {
      const int this_case = (c >= 'a') ? 1 : 2;
      if (want == Case::lower && this_case == 2) {
        return invalid("base32: upper-case " + describe_char(c) + at(base + i) +
                       " (prefix 'b' means lower case)");
      }
      if (want == Case::upper && this_case == 1) {
        return invalid("base32: lower-case " + describe_char(c) + at(base + i) +
                       " (prefix 'B' means upper case)");
      }
      if (seen_case != 0 && seen_case != this_case) {
        return invalid("base32: mixed upper and lower case" + at(base + i));
      }
      seen_case = this_case;
    }
    acc = (acc << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>(acc >> bits));
      acc &= (1u << bits) - 1;
    }
  }
  // Leftover bits pad the last character; a canonical encoder leaves them 0,
  // so non-zero ones mean a second spelling of the same bytes.
  if (acc != 0) return invalid("base32: non-zero trailing bits in the last character");
  return out;
}

Result<Bytes> decode58(std::string_view s, size_t base) {
  if (s.size() > kMaxMultibaseText) {
    return too_large("base58: text of " + std::to_string(s.size()) + " characters exceeds the " +
                     std::to_string(kMaxMultibaseText) + "-character limit");
  }
  size_t zeros = 0;
  while (zeros < s.size() && s[zeros] == '1') ++zeros;
  // Little-endian base-256 digits of the number the rest of `s` spells.
  Bytes num;
  num.reserve(s.size());
  for (size_t i = zeros; i < s.size(); ++i) {
    const int v = base58_value(s[i]);
    if (v < 0) return invalid("base58: invalid character " + describe_char(s[i]) + at(base + i));
    uint32_t carry = static_cast<uint32_t>(v);
    for (uint8_t& d : num) {
      carry += uint32_t{d} * 58;
      d = static_cast<uint8_t>(carry);
      carry >>= 8;
    }
    while (carry) {
      num.push_back(static_cast<uint8_t>(carry));
      carry >>= 8;
    }
  }
  Bytes out(zeros, 0);
  out.insert(out.end(), num.rbegin(), num.rend());
  return out;
}

}  // namespace

char* base32_write(ByteView data, char* p) {
  size_t i = 0;
  // Five bytes are eight digits: a listing writes two CIDs per pin.
  for (; i + 5 <= data.size(); i += 5, p += 8) {
    uint64_t v = 0;
    for (size_t k = 0; k < 5; ++k) v = (v << 8) | data[i + k];
    for (int k = 0; k < 8; ++k) p[k] = kBase32Lower[(v >> (35 - 5 * k)) & 31];
  }
  uint32_t acc = 0;
  int bits = 0;
  for (; i < data.size(); ++i) {
    acc = (acc << 8) | data[i];
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      *p++ = kBase32Lower[(acc >> bits) & 31];
    }
    acc &= (1u << bits) - 1;
  }
  if (bits > 0) *p++ = kBase32Lower[(acc << (5 - bits)) & 31];
  return p;
}

void base32_append(ByteView data, std::string& out) {
  size_t at = out.size();
  out.resize(at + base32_size(data.size()));
  base32_write(data, out.data() + at);
}

std::string base32_encode(ByteView data) {
  std::string out;
  base32_append(data, out);
  return out;
}

Result<Bytes> base32_decode(std::string_view s) {
  return decode32(s, Case::consistent, 0);
}

std::string base58_encode(ByteView data) {
  size_t zeros = 0;
  while (zeros < data.size() && data[zeros] == 0) ++zeros;
  // Little-endian base-58 digits; each input byte multiplies by 256 and adds.
  Bytes digits;
  digits.reserve(data.size() * 138 / 100 + 1);
  for (size_t i = zeros; i < data.size(); ++i) {
    uint32_t carry = data[i];
    for (uint8_t& d : digits) {
      carry += uint32_t{d} << 8;
      d = static_cast<uint8_t>(carry % 58);
      carry /= 58;
    }
    while (carry) {
      digits.push_back(static_cast<uint8_t>(carry % 58));
      carry /= 58;
    }
  }
  std::string out(zeros, '1');
  out.reserve(zeros + digits.size());
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) out.push_back(kBase58[*it]);
  return out;
}

Result<Bytes> base58_decode(std::string_view s) {
  return decode58(s, 0);
}

std::string multibase_encode(char prefix, ByteView data) {
  switch (prefix) {
    case 'b':
      return 'b' + base32_encode(data);
    case 'B': {
      std::string s = 'B' + base32_encode(data);
      std::transform(s.begin(), s.end(), s.begin(),
                     [](char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; });
      return s;
    }
    case 'z':
      return 'z' + base58_encode(data);
  }
  assert(false && "multibase_encode: prefix must be 'b', 'B' or 'z'");
  return {};
}

Result<Bytes> multibase_decode(std::string_view text) {
  if (text.empty()) return invalid("multibase text is empty");
  if (text.size() > kMaxMultibaseText) {
    return too_large("multibase text of " + std::to_string(text.size()) +
                     " characters exceeds the " + std::to_string(kMaxMultibaseText) +
                     "-character limit");
  }
  const std::string_view payload = text.substr(1);
  switch (text[0]) {
    case 'b':
      return decode32(payload, Case::lower, 1);
    case 'B':
      return decode32(payload, Case::upper, 1);
    case 'z':
      return decode58(payload, 1);
  }
  return Status(Code::unsupported, "multibase: unsupported prefix " + describe_char(text[0]) +
                                       " (supported: 'b' base32, 'B' base32 upper, 'z' base58btc)");
}

}  // namespace trellis
