#include "net/wire.h"

#include "crdt/pack.h"

namespace trellis::net {

namespace {

// Wire type numbers: never reuse or renumber one.
enum Type : uint8_t {
  kHello = 1,
  kPing = 2,
  kPong = 3,
  kPublish = 4,
  kRequest = 5,
  kStreamData = 6,
  kResponse = 7,
  kCancel = 8,
};

constexpr uint64_t kLastCode = static_cast<uint64_t>(Code::unavailable);

struct Encoder {
  pack::Packer& pk;
  void operator()(const Hello& m) {
    pk.pack_array(4);
    pk.pack_uint8(kHello);
    pk.pack_uint32(m.version);
    pack::str(pk, m.agent);
    pk.pack_array(static_cast<uint32_t>(m.listen_addrs.size()));
    for (const auto& a : m.listen_addrs) pack::str(pk, a);
  }
  void operator()(const Ping& m) {
    pk.pack_array(2);
    pk.pack_uint8(kPing);
    pk.pack_uint64(m.nonce);
  }
  void operator()(const Pong& m) {
    pk.pack_array(2);
    pk.pack_uint8(kPong);
    pk.pack_uint64(m.nonce);
  }
  void operator()(const Publish& m) {
    pk.pack_array(2);
    pk.pack_uint8(kPublish);
    pack::bin(pk, m.message);
  }
  void operator()(const Request& m) {
    pk.pack_array(4);
    pk.pack_uint8(kRequest);
    pk.pack_uint64(m.id);
    pack::str(pk, m.method);
    pack::bin(pk, m.body);
  }
  void operator()(const StreamData& m) {
    pk.pack_array(3);
    pk.pack_uint8(kStreamData);
    pk.pack_uint64(m.id);
    pack::bin(pk, m.body);
  }
  void operator()(const Response& m) {
    pk.pack_array(5);
    pk.pack_uint8(kResponse);
    pk.pack_uint64(m.id);
    pk.pack_uint8(static_cast<uint8_t>(m.code));
    pack::str(pk, m.error);
    pack::bin(pk, m.body);
  }
  void operator()(const Cancel& m) {
    pk.pack_array(2);
    pk.pack_uint8(kCancel);
    pk.pack_uint64(m.id);
  }
};

Result<std::string> bounded_str(const msgpack::object& o, const char* what, size_t max) {
  auto s = pack::as_str(o, what);
  if (!s) return s.status();
  if (s->size() > max)
    return too_large(std::string(what) + " is " + std::to_string(s->size()) +
                     " bytes, limit " + std::to_string(max));
  return std::string(*s);
}

Result<Bytes> bin(const msgpack::object& o, const char* what) {
  auto b = pack::as_bin(o, what);
  if (!b) return b.status();
  return Bytes(b->begin(), b->end());
}

#define WIRE_TRY_ASSIGN(lhs, expr)     \
  do {                                 \
    auto wire_r = (expr);              \
    if (!wire_r) return wire_r.status(); \
    lhs = std::move(*wire_r);          \
  } while (0)

Result<Message> decode_fields(uint64_t type, const msgpack::object* f, uint32_t n) {
  auto want = [&](uint32_t count, const char* name) -> Status {
    if (n == count) return Status::ok();
    return corrupt(std::string(name) + " message has " + std::to_string(n) + " fields, expected " +
                   std::to_string(count));
  };
  switch (type) {
    case kHello: {
      TRELLIS_TRY(want(4, "hello"));
      Hello m;
      uint64_t v = 0;
      WIRE_TRY_ASSIGN(v, pack::as_uint(f[1], "hello version"));
      if (v > UINT32_MAX) return corrupt("hello version is out of range");
      m.version = static_cast<uint32_t>(v);
      WIRE_TRY_ASSIGN(m.agent, bounded_str(f[2], "hello agent", kMaxAgentBytes));
      auto addrs = pack::array(f[3], "hello listen addresses");
      if (!addrs) return addrs.status();
      if ((*addrs)->size > kMaxListenAddrs)
        return too_large("hello lists " + std::to_string((*addrs)->size) +
                         " listen addresses, limit " + std::to_string(kMaxListenAddrs));
      for (uint32_t i = 0; i < (*addrs)->size; ++i) {
        std::string a;
        WIRE_TRY_ASSIGN(a, bounded_str((*addrs)->ptr[i], "listen address", kMaxAddrBytes));
        m.listen_addrs.push_back(std::move(a));
      }
      return Message{std::move(m)};
    }
    case kPing:
    case kPong: {
      TRELLIS_TRY(want(2, type == kPing ? "ping" : "pong"));
      uint64_t nonce = 0;
      WIRE_TRY_ASSIGN(nonce, pack::as_uint(f[1], "nonce"));
      if (type == kPing) return Message{Ping{nonce}};
      return Message{Pong{nonce}};
    }
    case kPublish: {
      TRELLIS_TRY(want(2, "publish"));
      Publish m;
      WIRE_TRY_ASSIGN(m.message, bin(f[1], "published message"));
      return Message{std::move(m)};
    }
    case kRequest: {
      TRELLIS_TRY(want(4, "request"));
      Request m;
      WIRE_TRY_ASSIGN(m.id, pack::as_uint(f[1], "request id"));
      WIRE_TRY_ASSIGN(m.method, bounded_str(f[2], "method", kMaxMethodBytes));
      WIRE_TRY_ASSIGN(m.body, bin(f[3], "request body"));
      return Message{std::move(m)};
    }
    case kStreamData: {
      TRELLIS_TRY(want(3, "stream data"));
      StreamData m;
      WIRE_TRY_ASSIGN(m.id, pack::as_uint(f[1], "stream id"));
      WIRE_TRY_ASSIGN(m.body, bin(f[2], "stream body"));
      return Message{std::move(m)};
    }
    case kResponse: {
      TRELLIS_TRY(want(5, "response"));
      Response m;
      WIRE_TRY_ASSIGN(m.id, pack::as_uint(f[1], "response id"));
      uint64_t code = 0;
      WIRE_TRY_ASSIGN(code, pack::as_uint(f[2], "response code"));
      if (code > kLastCode) return corrupt("response code " + std::to_string(code) + " is unknown");
      m.code = static_cast<Code>(code);
      WIRE_TRY_ASSIGN(m.error, bounded_str(f[3], "response error", kMaxErrorBytes));
      WIRE_TRY_ASSIGN(m.body, bin(f[4], "response body"));
      return Message{std::move(m)};
    }
    case kCancel: {
      TRELLIS_TRY(want(2, "cancel"));
      uint64_t id = 0;
      WIRE_TRY_ASSIGN(id, pack::as_uint(f[1], "cancel id"));
      return Message{Cancel{id}};
    }
    default:
      return Status(Code::unsupported, "message type " + std::to_string(type) + " is unknown");
  }
}

#undef WIRE_TRY_ASSIGN

}  // namespace

Bytes encode(const Message& m) {
  msgpack::sbuffer buf;
  pack::Packer pk(buf);
  std::visit(Encoder{pk}, m);
  return pack::to_bytes(buf);
}

Result<Message> decode(ByteView bytes) {
  if (bytes.empty()) return corrupt("message is empty");
  if (bytes.size() > kMaxMessageBytes)
    return too_large("message is " + std::to_string(bytes.size()) + " bytes, limit " +
                     std::to_string(kMaxMessageBytes));
  // Arrays: at most the listen addresses; strings and bins: a message.
  msgpack::unpack_limit limit(16, 0, kMaxMessageBytes, kMaxMessageBytes, 0, 3);
  return pack::decode(bytes, limit, "message", [](const msgpack::object& root) -> Result<Message> {
    auto top = pack::array(root, "message");
    if (!top) return top.status();
    if ((*top)->size == 0) return corrupt("message is an empty array");
    auto type = pack::as_uint((*top)->ptr[0], "message type");
    if (!type) return type.status();
    return decode_fields(*type, (*top)->ptr, (*top)->size);
  });
}

const char* message_name(const Message& m) {
  static constexpr const char* kNames[] = {"hello",       "ping",     "pong",  "publish",
                                           "request",     "stream data", "response", "cancel"};
  return kNames[m.index()];
}

}  // namespace trellis::net
