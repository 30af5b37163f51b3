// Arbitrary bytes as Noise_IK message 1 into a responder with a fixed static key (the cacophony vector's
// resp_static, prologue "John Galt", so the committed seed `valid_vector_msg1` is a real message 1 that
// decrypts). Properties: never crashes, never reads or writes out of bounds, and a message that is accepted
// leaves a responder that can answer, complete and split; one that is refused leaves it failed with no peer key.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "crypto/noise_handshake.h"
#include "crypto/transport.h"

namespace {

using namespace strait::crypto;

constexpr uint8_t kRespStatic[32] = {0x4a, 0x3a, 0xcb, 0xfd, 0xb1, 0x63, 0xde, 0xc6, 0x51, 0xdf, 0xa3,
                                     0x19, 0x4d, 0xec, 0xe6, 0x76, 0xd4, 0x37, 0x02, 0x9c, 0x62, 0xa4,
                                     0x08, 0xb4, 0xc5, 0xea, 0x91, 0x14, 0x24, 0x6e, 0x48, 0x93};
constexpr uint8_t kPrologue[] = {'J', 'o', 'h', 'n', ' ', 'G', 'a', 'l', 't'};

void Check(bool cond) {
  if (!cond) __builtin_trap();
}

const X25519KeyPair& ResponderKey() {
  static const X25519KeyPair kp = X25519KeyPair::FromSecret(X25519SecretKey(std::span<const uint8_t, 32>(kRespStatic)));
  return kp;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  HandshakeOptions o;
  o.pattern = NoisePattern::kIK;
  o.role = NoiseRole::kResponder;
  o.prologue = kPrologue;
  o.local_static = ResponderKey();
  auto resp = HandshakeState::Create(std::move(o));
  Check(resp.ok());

  static std::array<uint8_t, kNoiseMaxMessageLen> payload;
  const HandshakeResult r = resp->ReadMessage(std::span<const uint8_t>(data, size), payload);
  if (!r.ok()) {
    Check(r.status != HandshakeStatus::kBufferTooSmall);  // payload buffer always suffices
    Check(resp->phase() == HandshakeState::Phase::kFailed);
    Check(!resp->remote_static().has_value());
    return 0;
  }
  Check(r.size + 96 == size);
  Check(resp->remote_static().has_value());
  Check(resp->phase() == HandshakeState::Phase::kWriteMessage);

  std::array<uint8_t, 128> m2;
  const HandshakeResult w = resp->WriteMessage(std::span<const uint8_t>(payload.data(), r.size < 16 ? r.size : 16), m2);
  Check(w.ok());
  Check(resp->IsComplete());
  auto keys = resp->Split();
  Check(keys.ok());
  TransportSession session(*keys);
  std::array<uint8_t, kTransportOverhead + 4> frame{};
  const uint8_t ad[] = {0x02};
  Check(session.Seal(ad, frame, 4).status == SealStatus::kOk);
  return 0;
}
