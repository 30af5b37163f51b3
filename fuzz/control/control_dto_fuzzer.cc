// control_dto_fuzzer: request bodies through the JSON reader into the request DTOs (control-plane/api/dto.h).
// Byte 0 picks the DTO, the rest is the body. Never crashes, throws or asserts, and:
//   - an accepted body re-encodes to JSON that decodes to an equal value;
//   - a body the reader refuses renders as malformed-json with its offset;
//   - a refused one is an invalid-request Problem with 1..20 field errors, each pointer "" or starting with '/',
//     that renders to JSON the reader accepts with status 400.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "control-plane/api/dto.h"
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

template <class Decode, class Encode>
void RoundTrip(const nlohmann::json& body, Decode decode, Encode encode) {
  auto r = decode(body);
  if (!r.ok()) {
    CheckRefusal(r.error());
    return;
  }
  auto again = decode(encode(*r));
  Check(again.ok() && *again == *r);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  auto body = ReadJson(std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
  if (!body.ok()) {
    Problem p = MalformedJson(body.error());
    auto rendered = ReadJson(RenderProblem(p, "/v1/x", "0123456789abcdef"));
    Check(rendered.ok() && (*rendered)["status"] == 400 && (*rendered)["offset"] == body.error().offset);
    return 0;
  }
  switch (data[0] % 3) {
    case 0: RoundTrip(*body, DecodeTenantCreate, EncodeTenantCreate); break;
    case 1: RoundTrip(*body, DecodeApiKeyCreate, EncodeApiKeyCreate); break;
    default: RoundTrip(*body, DecodeUserCreate, EncodeUserCreate); break;
  }
  return 0;
}
