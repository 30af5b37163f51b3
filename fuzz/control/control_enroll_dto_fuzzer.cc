// control_enroll_dto_fuzzer: request bodies through the JSON reader into the enrolment DTOs
// (control-plane/api/dto_enroll.h). Byte 0 picks the DTO, the rest is the body. Never crashes, throws or asserts, and:
//   - an accepted Redeem or RelayCreate re-encodes to JSON that decodes to an equal value;
//   - an accepted RelayCreate's endpoints are covered by its tls_names / tls_ips;
//   - every refusal is an invalid-request Problem with 1..20 field errors, each pointer "" or starting with '/'.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "control-plane/api/dto_enroll.h"
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

template <class Decode>
void DecodeOnly(const nlohmann::json& body, Decode decode) {
  auto r = decode(body);
  if (!r.ok()) CheckRefusal(r.error());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  auto body = ReadJson(std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
  if (!body.ok()) return 0;
  switch (data[0] % 6) {
    case 0: RoundTrip(*body, DecodeRedeem, EncodeRedeem); break;
    case 1: {
      RoundTrip(*body, DecodeRelayCreate, EncodeRelayCreate);
      if (auto r = DecodeRelayCreate(*body); r.ok()) {
        Check(!EndpointNotCovered(r->device_endpoint, r->tls_names, r->tls_ips));
        Check(!EndpointNotCovered(r->connector_endpoint, r->tls_names, r->tls_ips));
      }
      break;
    }
    case 2: DecodeOnly(*body, DecodeRelayPatch); break;
    case 3: DecodeOnly(*body, DecodeActivationCreate); break;
    case 4: DecodeOnly(*body, DecodeRelayActivationCreate); break;
    default: DecodeOnly(*body, DecodeConnectorCreate); break;
  }
  return 0;
}
