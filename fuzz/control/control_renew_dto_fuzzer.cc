// control_renew_dto_fuzzer: request bodies through the JSON reader into the renewal DTO
// (control-plane/api/dto_renew.h). Byte 0 picks the route's kind (device, connector, relay), the rest is the body.
// Never crashes, throws or asserts, and:
//   - an accepted Renew re-encodes to JSON that decodes to an equal value;
//   - only a device's Renew carries os_version, at most 64 bytes;
//   - every refusal is an invalid-request Problem with 1..20 field errors, each pointer "" or starting with '/'.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "control-plane/api/dto_renew.h"
#include "control-plane/api/json_reader.h"
#include "control-plane/api/problem.h"

namespace {

using namespace strait::control;  // NOLINT: a fuzzer's brevity

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  auto body = ReadJson(std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
  if (!body.ok()) return 0;
  const EnrolKind kind = data[0] % 3 == 0 ? EnrolKind::kDevice
                         : data[0] % 3 == 1 ? EnrolKind::kConnector
                                            : EnrolKind::kRelay;
  auto r = DecodeRenew(*body, kind);
  if (!r.ok()) {
    const Problem& p = r.error();
    Check(p.type == ProblemType::kInvalidRequest);
    Check(!p.errors.empty() && p.errors.size() <= kMaxFieldErrors);
    for (const FieldError& e : p.errors) Check(e.pointer.empty() || e.pointer[0] == '/');
    return 0;
  }
  Check(!r->os_version || (kind == EnrolKind::kDevice && r->os_version->size() <= kOsVersionBounds.max_bytes));
  auto again = DecodeRenew(EncodeRenew(*r), kind);
  Check(again.ok() && *again == *r);
  return 0;
}
