#include "control-plane/api/dto_renew.h"

namespace strait::control {

Result<Renew, Problem> DecodeRenew(const nlohmann::json& body, EnrolKind kind) {
  FieldErrors errors;
  ObjectReader r(body, "", &errors);
  Renew out;
  // Read only where it belongs, so Finish() names it as unknown in a connector's or relay's body.
  if (kind == EnrolKind::kDevice) out.os_version = r.Text("os_version", Need::kOptional, kOsVersionBounds);
  r.Finish();
  if (!errors.empty()) return Fail(errors.ToProblem());
  return out;
}

nlohmann::json EncodeRenew(const Renew& v) {
  nlohmann::json j = nlohmann::json::object();
  if (v.os_version) j["os_version"] = *v.os_version;
  return j;
}

}  // namespace strait::control
