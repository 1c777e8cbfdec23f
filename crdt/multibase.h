// Multibase text encodings used for CIDs and peer IDs
// (https://github.com/multiformats/multibase): base32 lower (RFC 4648, no
// padding, prefix 'b') and base58btc (Bitcoin alphabet, prefix 'z').
#pragma once

#include <string>
#include <string_view>

#include "crdt/bytes.h"
#include "crdt/status.h"

namespace trellis {

// Largest text accepted by base58_decode and multibase_decode (base58
// decoding is quadratic); longer input fails with too_large.
inline constexpr size_t kMaxMultibaseText = 512;

// Decoders accept only the canonical spelling of each byte string, so text
// and bytes correspond one to one: base32 without padding and with zero
// trailing bits, base58 as Bitcoin writes it. Bad text fails with
// invalid_argument and a message naming the offending character and offset.
std::string base32_encode(ByteView data);         // lower case, no padding
void base32_append(ByteView data, std::string& out);  // the same, appended
// base32_encode() written at p, which has room for base32_size(data.size())
// characters; returns the end.
char* base32_write(ByteView data, char* p);
constexpr size_t base32_size(size_t bytes) { return (bytes * 8 + 4) / 5; }
Result<Bytes> base32_decode(std::string_view s);  // all lower or all upper case
std::string base58_encode(ByteView data);
Result<Bytes> base58_decode(std::string_view s);

// Whole multibase strings: a prefix character then the payload. Prefixes:
// 'b' base32 lower, 'B' base32 upper, 'z' base58btc; any other prefix is a
// programming error for the encoder and an unsupported error when decoding.
std::string multibase_encode(char prefix, ByteView data);
Result<Bytes> multibase_decode(std::string_view text);

}  // namespace trellis
