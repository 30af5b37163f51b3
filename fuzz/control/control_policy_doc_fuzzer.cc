// control_policy_doc_fuzzer: policy bodies (PolicyWrite) through the JSON reader, the decoder, the TOML renderer and
// the connector's own parser (control-plane/api/policy_doc.h). Never crashes, throws or asserts, and:
//   - an accepted body re-encodes to JSON that decodes to an equal value rendering the same TOML;
//   - a policy CheckPolicy accepts renders TOML that ParsePolicy accepts (what a connector will load);
//   - a policy it refuses is limit-exceeded over 1 MiB of TOML, or invalid-request with exactly one field error
//     whose pointer names a member of the body (so every parser error maps back: none is a TOML syntax error,
//     which would mean the renderer let a string break out of its quotes).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "control-plane/api/json_reader.h"
#include "control-plane/api/policy_doc.h"
#include "tunnel/connector/policy_file.h"

namespace {

using namespace strait::control;  // NOLINT: a fuzzer's brevity

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto body = ReadJson(std::string_view(reinterpret_cast<const char*>(data), size), kPolicyJsonLimits);
  if (!body.ok()) return 0;
  auto in = DecodePolicyWrite(*body);
  if (!in.ok()) {
    Check(in.error().type == ProblemType::kInvalidRequest && !in.error().errors.empty());
    return 0;
  }
  const nlohmann::json encoded = EncodePolicyWrite(*in);
  auto again = DecodePolicyWrite(encoded);
  Check(again.ok() && *again == *in);
  const std::string toml = RenderPolicyToml(*in);
  Check(RenderPolicyToml(*again) == toml);

  auto checked = CheckPolicy(*in);
  if (checked.ok()) {
    Check(*checked == toml);
    Check(strait::connector::ParsePolicy(*checked, "fuzz").ok());
    return 0;
  }
  const Problem& p = checked.error();
  if (p.type == ProblemType::kLimitExceeded) {
    Check(toml.size() > kMaxPolicyTomlBytes);
    return 0;
  }
  Check(p.type == ProblemType::kInvalidRequest && p.errors.size() == 1);
  const std::string& pointer = p.errors[0].pointer;
  Check(!pointer.empty() && pointer[0] == '/');
  Check(encoded.contains(nlohmann::json::json_pointer(pointer)));
  return 0;
}
