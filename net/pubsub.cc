#include "net/pubsub.h"

#include <sodium.h>

#include <algorithm>
#include <exception>
#include <msgpack.hpp>

namespace trellis::net {

namespace {

void put_be(Bytes& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// Strings and bins point into the input buffer instead of being copied.
bool reference_all(msgpack::type::object_type, std::size_t, void*) {
  return true;
}

Result<ByteView> as_bin(const msgpack::object& o, const char* what) {
  if (o.type != msgpack::type::BIN)
    return corrupt(std::string("pubsub ") + what + " is not binary");
  return ByteView(reinterpret_cast<const uint8_t*>(o.via.bin.ptr), o.via.bin.size);
}

Result<PubsubMessage> decode_object(const msgpack::object& root, size_t max_data) {
  if (root.type != msgpack::type::ARRAY) return corrupt("pubsub message is not an array");
  const auto& f = root.via.array;
  if (f.size == 0 || f.ptr[0].type != msgpack::type::POSITIVE_INTEGER) {
    return corrupt("pubsub message does not start with a version number");
  }
  if (f.ptr[0].via.u64 != kPubsubVersion) {
    return Status(Code::unsupported, "pubsub message version " + std::to_string(f.ptr[0].via.u64) +
                                         " is not supported (this build reads version 1)");
  }
  if (f.size != 6) {
    return corrupt("pubsub message has " + std::to_string(f.size) + " fields, expected 6");
  }

  PubsubMessage m;
  if (f.ptr[1].type != msgpack::type::STR) return corrupt("pubsub topic is not a string");
  m.topic.assign(f.ptr[1].via.str.ptr, f.ptr[1].via.str.size);
  if (Status st = check_topic(m.topic); !st) return corrupt("pubsub " + st.message());

  auto origin = as_bin(f.ptr[2], "origin");
  if (!origin) return origin.status();
  if (origin->size() != kPeerIdBytes) {
    return corrupt("pubsub origin is " + std::to_string(origin->size()) + " bytes, expected " +
                   std::to_string(kPeerIdBytes));
  }
  auto id = PeerId::from_bytes(*origin);
  if (!id) return corrupt("pubsub origin: " + id.status().message());
  m.origin = *id;

  if (f.ptr[3].type != msgpack::type::POSITIVE_INTEGER) {
    return corrupt("pubsub seqno is not an unsigned integer");
  }
  m.seqno = f.ptr[3].via.u64;

  auto data = as_bin(f.ptr[4], "data");
  if (!data) return data.status();
  if (data->size() > max_data) {
    return too_large("pubsub data is " + std::to_string(data->size()) + " bytes, limit " +
                     std::to_string(max_data));
  }
  m.data.assign(data->begin(), data->end());

  auto sig = as_bin(f.ptr[5], "signature");
  if (!sig) return sig.status();
  if (sig->size() != kSignatureBytes) {
    return corrupt("pubsub signature is " + std::to_string(sig->size()) + " bytes, expected " +
                   std::to_string(kSignatureBytes));
  }
  std::copy(sig->begin(), sig->end(), m.signature.begin());
  return m;
}

}  // namespace

Status check_topic(std::string_view topic) {
  if (topic.empty()) return invalid("topic is empty");
  if (topic.size() > kMaxTopicBytes) {
    return invalid("topic is " + std::to_string(topic.size()) + " bytes, limit " +
                   std::to_string(kMaxTopicBytes));
  }
  for (size_t i = 0; i < topic.size(); ++i) {
    const auto c = static_cast<unsigned char>(topic[i]);
    if (c < 0x21 || c > 0x7e) {
      return invalid("topic has byte 0x" + to_hex(ByteView(&c, 1)) + " at offset " +
                     std::to_string(i) + "; only printable ASCII without spaces is allowed");
    }
  }
  return Status::ok();
}

Bytes pubsub_signing_bytes(std::string_view topic, const PeerId& origin, uint64_t seqno,
                           ByteView data) {
  Bytes out;
  const Bytes id = origin.bytes();
  out.reserve(kPubsubDomain.size() + 2 + topic.size() + id.size() + 16 + data.size());
  out.insert(out.end(), kPubsubDomain.begin(), kPubsubDomain.end());
  put_be(out, topic.size(), 2);
  out.insert(out.end(), topic.begin(), topic.end());
  out.insert(out.end(), id.begin(), id.end());  // fixed 38 bytes
  put_be(out, seqno, 8);
  put_be(out, data.size(), 8);
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

PubsubMessage sign_pubsub(const Identity& self, std::string topic, uint64_t seqno, Bytes data) {
  PubsubMessage m{std::move(topic), self.id(), seqno, std::move(data), {}};
  m.signature = self.sign(pubsub_signing_bytes(m.topic, m.origin, m.seqno, m.data));
  return m;
}

bool verify_pubsub(const PubsubMessage& m) {
  if (m.origin.is_empty()) return false;
  return verify(m.origin, pubsub_signing_bytes(m.topic, m.origin, m.seqno, m.data), m.signature);
}

Bytes encode_pubsub(const PubsubMessage& m) {
  msgpack::sbuffer buf(m.data.size() + kPubsubOverhead);
  msgpack::packer<msgpack::sbuffer> pk(buf);
  const Bytes id = m.origin.bytes();
  pk.pack_array(6);
  pk.pack_uint64(kPubsubVersion);
  pk.pack_str(static_cast<uint32_t>(m.topic.size()));
  pk.pack_str_body(m.topic.data(), static_cast<uint32_t>(m.topic.size()));
  pk.pack_bin(static_cast<uint32_t>(id.size()));
  pk.pack_bin_body(reinterpret_cast<const char*>(id.data()), static_cast<uint32_t>(id.size()));
  pk.pack_uint64(m.seqno);
  pk.pack_bin(static_cast<uint32_t>(m.data.size()));
  pk.pack_bin_body(reinterpret_cast<const char*>(m.data.data()),
                   static_cast<uint32_t>(m.data.size()));
  pk.pack_bin(static_cast<uint32_t>(m.signature.size()));
  pk.pack_bin_body(reinterpret_cast<const char*>(m.signature.data()),
                   static_cast<uint32_t>(m.signature.size()));
  const auto* p = reinterpret_cast<const uint8_t*>(buf.data());
  return Bytes(p, p + buf.size());
}

Result<PubsubMessage> decode_pubsub(ByteView bytes, size_t max_data) {
  if (bytes.empty()) return corrupt("pubsub message is empty");
  if (bytes.size() > max_data + kPubsubOverhead) {
    return too_large("pubsub message is " + std::to_string(bytes.size()) + " bytes, limit " +
                     std::to_string(max_data + kPubsubOverhead));
  }
  // Parser bounds: one flat array of six, no maps or ext, strings no longer
  // than a topic, bins no longer than the data limit.
  const size_t max_bin = std::max(max_data, kPeerIdBytes + kSignatureBytes);
  msgpack::unpack_limit limit(6, 0, kMaxTopicBytes, max_bin, 0, 1);
  try {
    std::size_t off = 0;
    msgpack::object_handle oh = msgpack::unpack(reinterpret_cast<const char*>(bytes.data()),
                                                bytes.size(), off, reference_all, nullptr, limit);
    if (off != bytes.size()) {
      return corrupt("pubsub message has " + std::to_string(bytes.size() - off) +
                     " trailing bytes");
    }
    return decode_object(oh.get(), max_data);
  } catch (const msgpack::insufficient_bytes&) {
    return corrupt("pubsub message is truncated");
  } catch (const std::exception& e) {
    return corrupt(std::string("pubsub message is not valid msgpack: ") + e.what());
  }
}

// --- SeenCache --------------------------------------------------------------

size_t SeenCache::Hash::operator()(const Key& k) const {
  uint8_t in[kPublicKeyBytes + 8];
  std::copy(k.origin.begin(), k.origin.end(), in);
  for (int i = 0; i < 8; ++i) in[kPublicKeyBytes + i] = static_cast<uint8_t>(k.seqno >> (8 * i));
  uint8_t out[crypto_shorthash_BYTES];
  crypto_shorthash(out, in, sizeof in, key.data());
  uint64_t h = 0;
  for (int i = 0; i < 8; ++i) h |= uint64_t{out[i]} << (8 * i);
  return static_cast<size_t>(h);
}

SeenCache::Hash SeenCache::random_hash() {
  Hash h;
  if (sodium_init() < 0) std::terminate();  // only fails without an entropy source
  randombytes_buf(h.key.data(), h.key.size());
  return h;
}

SeenCache::SeenCache(size_t capacity, PubsubClock::duration ttl)
    : capacity_(std::max<size_t>(capacity, 1)), ttl_(ttl), set_(0, random_hash()) {}

void SeenCache::expire(PubsubClock::time_point now) {
  // Entries are queued in arrival order, so expiry times are (nearly)
  // increasing; an entry queued behind a later one lives at most a little
  // longer, and capacity bounds everything anyway.
  while (!fifo_.empty() && fifo_.front().first <= now) {
    set_.erase(fifo_.front().second);
    fifo_.pop_front();
  }
}

bool SeenCache::contains(const Key& k, PubsubClock::time_point now) {
  expire(now);
  return set_.count(k) > 0;
}

void SeenCache::insert(const Key& k, PubsubClock::time_point now) {
  expire(now);
  while (set_.size() >= capacity_ && !fifo_.empty()) {
    set_.erase(fifo_.front().second);
    fifo_.pop_front();
  }
  if (set_.insert(k).second) fifo_.emplace_back(now + ttl_, k);
}

// --- Pubsub -----------------------------------------------------------------

Pubsub::Pubsub(Identity self, uint64_t first_seqno, PubsubOptions options)
    : self_(std::move(self)),
      options_(options),
      next_seqno_(first_seqno),
      rng_(options.seed),
      seen_(options.seen_capacity, options.seen_ttl) {}

Status Pubsub::subscribe(std::string topic, Handler handler) {
  TRELLIS_TRY(check_topic(topic));
  if (!handler) return invalid("subscribe to " + topic + " without a handler");
  handlers_[std::move(topic)] = std::move(handler);
  return Status::ok();
}

void Pubsub::unsubscribe(std::string_view topic) {
  auto it = handlers_.find(topic);
  if (it != handlers_.end()) handlers_.erase(it);
}

bool Pubsub::subscribed(std::string_view topic) const {
  return handlers_.find(topic) != handlers_.end();
}

Status Pubsub::set_validator(std::string topic, Validator validator) {
  TRELLIS_TRY(check_topic(topic));
  if (validator) {
    validators_[std::move(topic)] = std::move(validator);
  } else {
    validators_.erase(topic);
  }
  return Status::ok();
}

// A uniform sample of at most D peers, without the two excluded ones and
// ourselves: partial Fisher-Yates over the candidates' indices.
std::vector<PeerId> Pubsub::pick_peers(std::span<const PeerId> connected, const PeerId& skip_a,
                                       const PeerId& skip_b) {
  std::vector<size_t> pool;
  pool.reserve(connected.size());
  for (size_t i = 0; i < connected.size(); ++i) {
    const PeerId& p = connected[i];
    if (p != skip_a && p != skip_b && p != self_.id() && !p.is_empty()) pool.push_back(i);
  }
  const size_t n = std::min(options_.fanout, pool.size());
  std::vector<PeerId> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    std::uniform_int_distribution<size_t> pick(i, pool.size() - 1);
    std::swap(pool[i], pool[pick(rng_)]);
    out.push_back(connected[pool[i]]);
  }
  return out;
}

Result<Pubsub::Published> Pubsub::publish(std::string_view topic, ByteView data,
                                          std::span<const PeerId> connected,
                                          PubsubClock::time_point now) {
  TRELLIS_TRY(check_topic(topic));
  if (data.size() > options_.max_data_bytes) {
    return too_large("pubsub data is " + std::to_string(data.size()) + " bytes, limit " +
                     std::to_string(options_.max_data_bytes));
  }
  seen_.expire(now);  // housekeeping while we are here
  Published out;
  out.seqno = next_seqno_++;
  out.encoded = encode_pubsub(
      sign_pubsub(self_, std::string(topic), out.seqno, Bytes(data.begin(), data.end())));
  out.send_to = pick_peers(connected, PeerId(), PeerId());
  ++counters_.published;
  counters_.sent += out.send_to.size();
  return out;
}

Pubsub::Received Pubsub::reject(Received r, Received::Reject why, Status reason) {
  r.verdict = Received::Verdict::rejected;
  r.reject = why;
  r.reason = std::move(reason);
  ++counters_.rejected;
  switch (why) {
    case Received::Reject::decode:
      ++counters_.rejected_decode;
      break;
    case Received::Reject::signature:
      ++counters_.rejected_signature;
      break;
    case Received::Reject::validator:
      ++counters_.rejected_validator;
      break;
    case Received::Reject::none:
      break;
  }
  return r;
}

Pubsub::Received Pubsub::on_message(const PeerId& from, ByteView encoded,
                                    std::span<const PeerId> connected,
                                    PubsubClock::time_point now) {
  Received r;
  auto m = decode_pubsub(encoded, options_.max_data_bytes);
  if (!m) return reject(std::move(r), Received::Reject::decode, m.status());
  r.topic = m->topic;

  // Duplicates first: they are the common case (up to D copies of each
  // message arrive) and cost a hash lookup instead of a verification.
  const SeenCache::Key key{m->origin.public_key(), m->seqno};
  if (m->origin == self_.id() || seen_.contains(key, now)) {
    r.verdict = Received::Verdict::duplicate;
    ++counters_.duplicates;
    return r;
  }
  if (!verify_pubsub(*m)) {
    return reject(std::move(r), Received::Reject::signature,
                  corrupt("pubsub message " + std::to_string(m->seqno) + " from " +
                          m->origin.to_string() + " has a bad signature"));
  }
  if (auto v = validators_.find(m->topic); v != validators_.end()) {
    const Validator validate = v->second;  // a copy: it may replace itself
    if (!validate(*m, from)) {
      seen_.insert(key, now);
      return reject(std::move(r), Received::Reject::validator,
                    invalid("pubsub message on " + m->topic + " rejected by its validator"));
    }
  }
  seen_.insert(key, now);
  r.verdict = Received::Verdict::accepted;
  ++counters_.accepted;

  // Chosen before the handler runs: the handler may change what `connected`
  // refers to.
  auto h = handlers_.find(m->topic);
  const bool local = h != handlers_.end();
  if (local || options_.relay_unsubscribed) {
    r.forward_to = pick_peers(connected, from, m->origin);
    counters_.forwarded += r.forward_to.size();
  }
  if (local) {
    const Handler handle = h->second;  // a copy: it may unsubscribe itself
    r.delivered = true;
    ++counters_.delivered;
    handle(*m, from);
  }
  return r;
}

}  // namespace trellis::net
