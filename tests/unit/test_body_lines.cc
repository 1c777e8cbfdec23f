// The list benchmark's response reader (tools/bench/body_lines.h): lines and
// bytes of chunked, sized and close-delimited bodies, fed whole and one byte
// at a time.
#include <doctest/doctest.h>

#include <string>

#include "tools/bench/body_lines.h"

using trellis::bench::BodyLines;

namespace {

BodyLines feed_in_pieces(const std::string& wire, size_t piece) {
  BodyLines r;
  for (size_t i = 0; i < wire.size() && !r.done(); i += piece)
    REQUIRE(r.feed(wire.data() + i, std::min(piece, wire.size() - i)));
  return r;
}

}  // namespace

TEST_CASE("BodyLines counts the lines of a chunked body whatever the read sizes") {
  const std::string wire =
      "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"
      "6\r\n{\"a\"}\n\r\n"
      "d;ext=1\r\n{\"b\"}\n{\"c\"}\n{\r\n"
      "2\r\n}\n\r\n"
      "0\r\nX-Trailer: 1\r\n\r\n"
      "HTTP/1.1 500 ignored";
  for (size_t piece : {size_t{1}, size_t{2}, size_t{7}, wire.size()}) {
    CAPTURE(piece);
    BodyLines r = feed_in_pieces(wire, piece);
    CHECK(r.done());
    CHECK(r.status() == 200);
    CHECK(r.lines() == 4);
    CHECK(r.bytes() == 6 + 13 + 2);
  }
}

TEST_CASE("BodyLines reads a Content-Length body and one that ends at close") {
  BodyLines sized = feed_in_pieces("HTTP/1.1 404 Not Found\r\ncontent-length: 4\r\n\r\na\nb\nc\n", 3);
  CHECK(sized.done());
  CHECK(sized.status() == 404);
  CHECK(sized.lines() == 2);
  CHECK(sized.bytes() == 4);

  BodyLines to_close = feed_in_pieces("HTTP/1.0 200 OK\r\n\r\nx\ny\n", 5);
  CHECK_FALSE(to_close.done());
  CHECK(to_close.closed());
  CHECK(to_close.lines() == 2);

  BodyLines chunked = feed_in_pieces("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\na\n", 4);
  CHECK_FALSE(chunked.closed());  // cut short: the body is not complete
}

TEST_CASE("BodyLines rejects a malformed response with a reason") {
  BodyLines r;
  CHECK_FALSE(r.feed("SSH-2.0-x\r\n\r\n", 13));
  CHECK(r.error().find("status line") != std::string::npos);
  BodyLines c;
  std::string bad = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
  CHECK_FALSE(c.feed(bad.data(), bad.size()));
  CHECK(c.error().find("chunk size") != std::string::npos);
  BodyLines h;
  std::string huge = "HTTP/1.1 200 OK\r\n" + std::string(70'000, 'x');
  CHECK_FALSE(h.feed(huge.data(), huge.size()));
}
