// Decodes the input as each control payload type (byte 0 picks it). Whenever a decode succeeds:
//   encode -> bytes E1; decode(E1) succeeds; encode again -> E2 == E1   (decode -> encode -> decode is stable)
//   exact payloads: E1 == the input; extensible ones: E1 is a prefix of the input (trailing bytes ignored).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "tunnel/link_messages.h"

using namespace strait::tunnel;

namespace {

template <class M>
void Check(const uint8_t* data, size_t size, bool exact) {
  const std::vector<uint8_t> in(data, data + size);  // exact size: overreads trip ASan
  auto m = M::Decode(in);
  if (!m.ok()) return;
  std::vector<uint8_t> e1(m->EncodedSize());
  auto n1 = m->Encode(e1);
  if (!n1.ok() || *n1 != e1.size()) __builtin_trap();
  if (e1.size() > in.size() || std::memcmp(e1.data(), in.data(), e1.size()) != 0) __builtin_trap();
  if (exact && e1.size() != in.size()) __builtin_trap();
  auto m2 = M::Decode(e1);
  if (!m2.ok()) __builtin_trap();
  std::vector<uint8_t> e2(m2->EncodedSize());
  auto n2 = m2->Encode(e2);
  if (!n2.ok() || e2 != e1) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t which = data[0] % 13;
  ++data;
  --size;
  switch (which) {
    case 0: Check<Hello>(data, size, true); break;
    case 1: Check<HelloAck>(data, size, false); break;
    case 2: Check<Ping>(data, size, true); break;
    case 3: Check<Pong>(data, size, true); break;
    case 4: Check<ErrorMessage>(data, size, true); break;
    case 5: Check<GoAway>(data, size, true); break;
    case 6: Check<SessionRequest>(data, size, true); break;
    case 7: Check<SessionOffer>(data, size, false); break;
    case 8: Check<SessionClose>(data, size, true); break;
    case 9: Check<NoiseMessage>(data, size, true); break;
    case 10: Check<DeviceHandshake>(data, size, false); break;
    case 11: Check<ConnectorHandshake>(data, size, false); break;
    case 12: Check<SessionCredit>(data, size, true); break;
  }
  return 0;
}
