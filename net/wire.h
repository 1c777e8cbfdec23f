// The messages peers exchange once a secure session is up (sans-I/O).
//
// Each message is one msgpack array [type, fields...]. Calls are
// request/response: a Request opens call `id`, the callee may send any
// number of StreamData items for it, and exactly one Response ends it; the
// caller may Cancel it early. Ids are chosen by the caller and are unique
// per connection and direction. Limits are named constants below and in
// docs/net.md; decode() refuses anything beyond them.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "crdt/bytes.h"
#include "crdt/status.h"

namespace trellis::net {

inline constexpr uint32_t kProtocolVersion = 1;
// One message, reassembled: the largest block (2 MiB) plus 64 KiB for
// framing. Bounds what one connection can make a peer buffer per lane.
inline constexpr size_t kMaxMessageBytes = (size_t{2} << 20) + (size_t{64} << 10);
inline constexpr size_t kMaxMethodBytes = 64;
inline constexpr size_t kMaxErrorBytes = 1024;
inline constexpr size_t kMaxAgentBytes = 128;
inline constexpr size_t kMaxListenAddrs = 8;
inline constexpr size_t kMaxAddrBytes = 256;

// Sent first by both sides after the handshake.
struct Hello {
  uint32_t version = kProtocolVersion;
  std::string agent;                       // "trellis/0.1.0"
  std::vector<std::string> listen_addrs;   // multiaddrs others may dial
  friend bool operator==(const Hello&, const Hello&) = default;
};
struct Ping {
  uint64_t nonce = 0;
  friend bool operator==(const Ping&, const Ping&) = default;
};
struct Pong {
  uint64_t nonce = 0;
  friend bool operator==(const Pong&, const Pong&) = default;
};
// An encoded pubsub message (net/pubsub.h), relayed as opaque bytes.
struct Publish {
  Bytes message;
  friend bool operator==(const Publish&, const Publish&) = default;
};
struct Request {
  uint64_t id = 0;
  std::string method;
  Bytes body;
  friend bool operator==(const Request&, const Request&) = default;
};
struct StreamData {
  uint64_t id = 0;
  Bytes body;
  friend bool operator==(const StreamData&, const StreamData&) = default;
};
struct Response {
  uint64_t id = 0;
  Code code = Code::ok;  // ok, or why the call failed
  std::string error;     // for people; empty when ok
  Bytes body;
  friend bool operator==(const Response&, const Response&) = default;
};
struct Cancel {
  uint64_t id = 0;
  friend bool operator==(const Cancel&, const Cancel&) = default;
};

using Message = std::variant<Hello, Ping, Pong, Publish, Request, StreamData, Response, Cancel>;

Bytes encode(const Message& m);
// Strict and bounded: unknown types, wrong field counts or types, and sizes
// over the limits fail with a corrupt/too_large Status saying which.
Result<Message> decode(ByteView bytes);
const char* message_name(const Message& m);

}  // namespace trellis::net
