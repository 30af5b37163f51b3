// Request decoding for renewal (docs/control-plane.md §4.9 Renew, §6.5): POST .../devices/{d}/renew,
// .../connectors/{c}/renew and /v1/relays/{r}/renew take `{}`; a device may report its OS version, which the
// renewal records. The keys are not in the body: renewal keeps them (new keys mean a new activation). Pure
// functions, read through dto.h's ObjectReader like every other body.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "control-plane/api/dto.h"
#include "control-plane/api/dto_enroll.h"

namespace strait::control {

struct Renew {
  std::optional<std::string> os_version;  // device only, <= 64 bytes (kOsVersionBounds)
  friend bool operator==(const Renew&, const Renew&) = default;
};
// `kind` is the route's subject: only a device's body may carry os_version (anything else is unknown_field).
Result<Renew, Problem> DecodeRenew(const nlohmann::json& body, EnrolKind kind);
nlohmann::json EncodeRenew(const Renew& v);

}  // namespace strait::control
