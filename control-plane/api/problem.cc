#include "control-plane/api/problem.h"

#include <algorithm>
#include <array>
#include <cassert>

#include <fmt/format.h>

namespace strait::control {
namespace {

using T = ProblemType;

constexpr std::array<ProblemInfo, kProblemTypeCount> kTable = {{
    {T::kMalformedJson, "malformed-json", 400, "The request body is not valid JSON"},
    {T::kInvalidRequest, "invalid-request", 400, "The request body is not valid"},
    {T::kInvalidCursor, "invalid-cursor", 400, "The paging cursor is not valid"},
    {T::kInvalidIdempotencyKey, "invalid-idempotency-key", 400, "The Idempotency-Key header is not valid"},
    {T::kUnauthenticated, "unauthenticated", 401, "Authentication is required"},
    {T::kActivationInvalid, "activation-invalid", 401, "The activation code is not valid"},
    {T::kForbidden, "forbidden", 403, "Not allowed for this principal"},
    {T::kLicenceExhausted, "licence-exhausted", 403, "The tenant has no free device seats"},
    {T::kLicenceExpired, "licence-expired", 403, "The tenant's licence has expired"},
    {T::kTenantSuspended, "tenant-suspended", 403, "The tenant is suspended"},
    {T::kDeviceLocked, "device-locked", 403, "The device is locked"},
    {T::kDeviceRevoked, "device-revoked", 403, "The device is revoked"},
    {T::kConnectorRevoked, "connector-revoked", 403, "The connector is revoked"},
    {T::kRelayRevoked, "relay-revoked", 403, "The relay is revoked"},
    {T::kNotFound, "not-found", 404, "Not found"},
    {T::kMethodNotAllowed, "method-not-allowed", 405, "The method is not allowed on this resource"},
    {T::kRequestTimeout, "request-timeout", 408, "The request took too long to arrive"},
    {T::kConflict, "conflict", 409, "The request conflicts with the current state"},
    {T::kActivationUsed, "activation-used", 409, "The activation was used already"},
    {T::kLimitExceeded, "limit-exceeded", 409, "A limit would be exceeded"},
    {T::kActivationExpired, "activation-expired", 410, "The activation has expired"},
    {T::kEventsExpired, "events-expired", 410, "The events after this id are no longer kept"},
    {T::kVersionMismatch, "version-mismatch", 412, "The resource's version does not match If-Match"},
    {T::kBodyTooLarge, "body-too-large", 413, "The request body is too large"},
    {T::kUnsupportedMediaType, "unsupported-media-type", 415, "The request body must be application/json"},
    {T::kIdempotencyKeyReused, "idempotency-key-reused", 422, "The Idempotency-Key was used for another request"},
    {T::kActivationOsMismatch, "activation-os-mismatch", 422, "The device's OS is not the activation's"},
    {T::kRateLimited, "rate-limited", 429, "Too many requests"},
    {T::kRenewTooSoon, "renew-too-soon", 429, "The credential was renewed too recently"},
    {T::kInternal, "internal", 500, "Internal error"},
    {T::kOverloaded, "overloaded", 503, "The server is overloaded"},
    {T::kTooManySubscribers, "too-many-subscribers", 503, "Too many event streams"},
    {T::kStoreBusy, "store-busy", 503, "The store is busy"},
}};

constexpr bool TableInEnumOrder() {
  for (size_t i = 0; i < kTable.size(); ++i) {
    if (static_cast<size_t>(kTable[i].type) != i) return false;
  }
  return true;
}
static_assert(TableInEnumOrder(), "kTable rows must follow the ProblemType enum");

constexpr std::array<std::string_view, 7> kStandardMembers = {"type",     "title",      "status", "detail",
                                                              "instance", "request_id", "errors"};

bool IsStandardMember(std::string_view name) {
  for (std::string_view m : kStandardMembers) {
    if (m == name) return true;
  }
  return false;
}

}  // namespace

std::span<const ProblemInfo> ProblemTable() { return kTable; }

const ProblemInfo& Info(ProblemType type) {
  size_t i = static_cast<size_t>(type);
  assert(i < kTable.size());
  return kTable[i];
}

std::optional<ProblemType> ProblemTypeFromName(std::string_view name) {
  for (const ProblemInfo& row : kTable) {
    if (row.name == name) return row.type;
  }
  return std::nullopt;
}

std::string ProblemTypeUri(ProblemType type) { return fmt::format("urn:strait:problem:{}", Info(type).name); }

std::string_view FieldErrorCodeName(FieldErrorCode code) {
  switch (code) {
    case FieldErrorCode::kUnknownField: return "unknown_field";
    case FieldErrorCode::kWrongType: return "wrong_type";
    case FieldErrorCode::kMissingField: return "missing_field";
    case FieldErrorCode::kOutOfRange: return "out_of_range";
    case FieldErrorCode::kBadFormat: return "bad_format";
    case FieldErrorCode::kTooManyItems: return "too_many_items";
    case FieldErrorCode::kDuplicateItem: return "duplicate_item";
  }
  return "unknown";
}

std::string EscapePointerToken(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

Problem MakeProblem(ProblemType type, std::string detail) {
  Problem p;
  p.type = type;
  p.detail = std::move(detail);
  return p;
}

Problem InvalidRequest(std::vector<FieldError> errors, size_t total) {
  if (total < errors.size()) total = errors.size();
  Problem p = MakeProblem(ProblemType::kInvalidRequest,
                          total == 1 ? std::string("1 field is not valid") : fmt::format("{} fields are not valid", total));
  if (errors.size() > kMaxFieldErrors) errors.resize(kMaxFieldErrors);
  p.errors = std::move(errors);
  return p;
}

Problem InvalidQueryParameter(std::string_view name, std::string_view why) {
  Problem p = MakeProblem(ProblemType::kInvalidRequest,
                          name.empty() ? fmt::format("query: {}", why) : fmt::format("query parameter {}: {}", name, why));
  if (!name.empty()) p.extensions["parameter"] = name;
  return p;
}

std::string RenderProblem(const Problem& problem, std::string_view instance, std::string_view request_id) {
  const ProblemInfo& info = Info(problem.type);
  // ordered_json keeps the members in the order RFC 9457's examples use: type first, the extensions after.
  nlohmann::ordered_json body;
  body["type"] = ProblemTypeUri(problem.type);
  body["title"] = info.title;
  body["status"] = info.status;
  body["detail"] = problem.detail;
  body["instance"] = instance;
  body["request_id"] = request_id;
  if (problem.extensions.is_object()) {
    for (const auto& [name, value] : problem.extensions.items()) {
      if (!IsStandardMember(name)) body[name] = value;
    }
  }
  if (!problem.errors.empty()) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    size_t n = std::min(problem.errors.size(), kMaxFieldErrors);
    for (size_t i = 0; i < n; ++i) {
      const FieldError& e = problem.errors[i];
      list.push_back({{"pointer", e.pointer}, {"code", FieldErrorCodeName(e.code)}, {"detail", e.detail}});
    }
    body["errors"] = std::move(list);
  }
  // `replace`: a detail built from client bytes must never make the body unrenderable (dump throws otherwise).
  return body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace strait::control
