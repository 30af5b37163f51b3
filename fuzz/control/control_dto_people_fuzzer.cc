// control_dto_people_fuzzer: request bodies through the JSON reader into the users', groups' and devices' request
// DTOs (control-plane/api/dto_people.h). Byte 0 picks the DTO, the rest is the body. Never crashes, throws or
// asserts, and:
//   - an accepted body re-encodes to JSON that decodes to an equal value;
//   - an accepted PushToken's token is 1..4,096 bytes of printable ASCII, a Reason 0..256 bytes;
//   - a refused one is an invalid-request Problem with 1..20 field errors, each pointer "" or starting with '/',
//     that renders to JSON the reader accepts with status 400.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "control-plane/api/dto_people.h"
#include "control-plane/api/json_reader.h"
#include "control-plane/api/problem.h"

namespace {

using namespace strait::control;  // NOLINT: a fuzzer's brevity

void Check(bool ok) {
  if (!ok) std::abort();
}

void CheckRefusal(const Problem& p) {
  Check(p.type == ProblemType::kInvalidRequest);
  Check(!p.errors.empty() && p.errors.size() <= kMaxFieldErrors);
  for (const FieldError& e : p.errors) Check(e.pointer.empty() || e.pointer[0] == '/');
  auto rendered = ReadJson(RenderProblem(p, "/v1/x", "0123456789abcdef"));
  Check(rendered.ok() && (*rendered)["status"] == 400);
}

template <class Decode, class Encode, class Valid>
void RoundTrip(const nlohmann::json& body, Decode decode, Encode encode, Valid valid) {
  auto r = decode(body);
  if (!r.ok()) {
    CheckRefusal(r.error());
    return;
  }
  Check(valid(*r));
  auto again = decode(encode(*r));
  Check(again.ok() && *again == *r);
}

template <class T>
bool Any(const T&) {
  return true;
}

bool PrintableToken(const PushToken& t) {
  if (!t.token) return true;
  if (t.token->empty() || t.token->size() > kMaxPushTokenBytes) return false;
  for (char c : *t.token) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  auto body = ReadJson(std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
  if (!body.ok()) return 0;  // the reader's refusals are control_json_fuzzer's and control_dto_fuzzer's
  switch (data[0] % 6) {
    case 0: RoundTrip(*body, DecodeUserPatch, EncodeUserPatch, Any<UserPatch>); break;
    case 1: RoundTrip(*body, DecodeGroupCreate, EncodeGroupCreate, Any<GroupCreate>); break;
    case 2: RoundTrip(*body, DecodeGroupPatch, EncodeGroupPatch, Any<GroupPatch>); break;
    case 3: RoundTrip(*body, DecodeDevicePatch, EncodeDevicePatch, Any<DevicePatch>); break;
    case 4:
      RoundTrip(*body, DecodeReason, EncodeReason, [](const Reason& r) { return r.reason.size() <= 256; });
      break;
    default: RoundTrip(*body, DecodePushToken, EncodePushToken, PrintableToken); break;
  }
  return 0;
}
