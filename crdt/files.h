// Whole-file reads and atomic, durable replacement of small files (identity,
// config, peer store). Errors name the path and what failed.
#pragma once

#include <string>
#include <string_view>

#include "crdt/status.h"

namespace trellis {

// Replaces `path` with `data`: writes a sibling temp file created with
// `mode`, fsyncs it, renames it over `path` and fsyncs the directory, so a
// crash leaves either the old file or the new one, never a mix.
Status write_file_atomic(const std::string& path, std::string_view data, unsigned mode);

// The whole file; not_found when it does not exist, too_large when it has
// more than max_bytes.
Result<std::string> read_file(const std::string& path, size_t max_bytes);

}  // namespace trellis
