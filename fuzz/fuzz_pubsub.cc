// Feeds arbitrary bytes to the pubsub codec and to a Pubsub node, as a frame
// from a connected peer. Besides "never crash", it checks that:
//  - whatever decodes re-encodes to bytes that decode to the same message;
//  - the node never forwards to more than D peers, nor to the sender or the
//    origin, and a signature it did not make is never accepted;
//  - the decoded content, signed for real by a fixed identity, is accepted
//    once and then seen as a duplicate, so the accept, deliver and forward
//    paths run on fuzzer-chosen topics and data too.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "net/pubsub.h"

using namespace trellis;
using namespace trellis::net;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

struct Fixture {
  Identity self = Identity::from_seed(Bytes(32, 0x01));
  Identity alice = Identity::from_seed(Bytes(32, 0x02));
  Identity bob = Identity::from_seed(Bytes(32, 0x03));
  std::vector<PeerId> connected;
  // Small bounds so the cache's eviction paths run within a short campaign.
  Pubsub node{self,
              1,
              {.fanout = 3,
               .seen_capacity = 64,
               .seen_ttl = std::chrono::seconds(5),
               .max_data_bytes = 4096}};
  PubsubClock::time_point now{};
  uint64_t delivered = 0;

  Fixture() {
    connected = {alice.id(), bob.id(), self.id()};
    for (uint8_t i = 10; i < 18; ++i) connected.push_back(Identity::from_seed(Bytes(32, i)).id());
    (void)node.subscribe("t", [this](const PubsubMessage&, const PeerId&) { ++delivered; });
    (void)node.set_validator(
        "v", [](const PubsubMessage& m, const PeerId&) { return m.data.size() % 2 == 0; });
  }
};

void check_forward(const Pubsub::Received& r, const PeerId& from, const PeerId& origin) {
  require(r.forward_to.size() <= 3);
  for (const auto& p : r.forward_to) require(p != from && p != origin);
  if (r.verdict != Pubsub::Received::Verdict::accepted) require(r.forward_to.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture f;
  f.now += std::chrono::milliseconds(100);  // time moves, so entries expire
  const ByteView in(data, size);

  auto m = decode_pubsub(in, 4096);
  if (m) {
    auto again = decode_pubsub(encode_pubsub(*m), 4096);
    require(again.is_ok() && *again == *m);
  }

  auto r = f.node.on_message(f.bob.id(), in, f.connected, f.now);
  require(m.is_ok() || r.verdict == Pubsub::Received::Verdict::rejected);
  check_forward(r, f.bob.id(), m ? m->origin : PeerId());
  if (r.verdict == Pubsub::Received::Verdict::accepted) require(verify_pubsub(*m));

  if (m && m->origin != f.self.id()) {
    // The same content, genuinely signed by alice with a fresh seqno.
    static uint64_t seq = 0;
    const Bytes wire = encode_pubsub(sign_pubsub(f.alice, m->topic, ++seq, m->data));
    auto first = f.node.on_message(f.bob.id(), wire, f.connected, f.now);
    check_forward(first, f.bob.id(), f.alice.id());
    const bool validator_says_no = m->topic == "v" && m->data.size() % 2 != 0;
    require(first.verdict == (validator_says_no ? Pubsub::Received::Verdict::rejected
                                                : Pubsub::Received::Verdict::accepted));
    auto second = f.node.on_message(f.alice.id(), wire, f.connected, f.now);
    require(second.verdict == Pubsub::Received::Verdict::duplicate);
  }
  require(f.node.seen_size() <= 64);
  return 0;
}
