// Counts the lines and bytes of an HTTP/1.1 response body as it arrives,
// keeping nothing but the header. For the `list` benchmark, whose client
// must cost less per line than trellisd spends per pin: Beast's parser took
// 1.5 µs per line there, this takes a memchr per chunk.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace trellis::bench {

class BodyLines {
 public:
  // Feeds the next n bytes of the response. Returns false when the response
  // is malformed (error() says how); bytes past the end are ignored.
  bool feed(const char* p, size_t n);
  // The connection closed; true when that ends the body (no length given).
  bool closed();
  bool done() const { return state_ == State::done; }
  int status() const { return status_; }
  uint64_t lines() const { return lines_; }
  uint64_t bytes() const { return bytes_; }
  const std::string& error() const { return error_; }

 private:
  enum class State { header, chunk_size, chunk_data, chunk_end, trailer, sized, to_close, done };
  bool parse_header();
  bool fail(std::string why);
  void body(const char* p, size_t n);

  State state_ = State::header;
  std::string line_;  // the header so far, or a chunk-size or trailer line
  uint64_t left_ = 0;  // bytes left in this chunk, or in a sized body
  int status_ = 0;
  uint64_t lines_ = 0, bytes_ = 0;
  std::string error_;
};

}  // namespace trellis::bench
