// trellis-dag: how keys, values and CIDs are shown to people and in JSON.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "crdt/bytes.h"
#include "crdt/cid.h"

namespace trellis::dag {

using json = nlohmann::json;

// True if `s` is valid UTF-8 (no overlongs, surrogates or code points past
// U+10FFFF).
bool is_utf8(std::string_view s);
// Valid UTF-8 without control characters: safe to print as is.
bool is_printable(std::string_view s);

// A key (or other text) on one line: backslash becomes "\\", control
// characters and bytes that are not UTF-8 become "\xNN"; the rest is kept.
std::string escape_text(std::string_view s);

// A value for people: "text" (escaped, quoted) when printable, else
// 0xHEX; longer ones are cut and followed by "… (N bytes)".
std::string value_preview(ByteView v, size_t max_chars = 64);

// "1 head", "2 heads".
std::string count_of(uint64_t n, std::string_view singular, std::string_view plural);

// "512 B", "1.5 MiB".
std::string human_size(uint64_t bytes);

// The tail of a CID's text form, enough to tell blocks apart in a drawing.
std::string short_cid(const Cid& cid);

// Sets obj[name] to the text when it is valid UTF-8, else obj[name + "_hex"]
// to its hex form: JSON holds the exact bytes either way.
void put_bytes(json& obj, const std::string& name, ByteView bytes);

// One JSON document on one line (invalid UTF-8 can not reach it through
// put_bytes, but is replaced rather than thrown on if it does).
std::string dump(const json& j);

}  // namespace trellis::dag
