// RFC 9457 problem+json (docs/control-plane.md §4.3). This file is the authority for the problem types: one enum
// entry and one table row each (name, status, title). `type` is `urn:strait:problem:<name>`: we own no domain, and a
// URN never dereferences to someone else's page. Clients switch on the name, never on title or detail.
//
// A Problem is what a handler or the dispatcher returns for any refusal; RenderProblem makes the body. Headers a
// type needs (`Allow` for 405, `Retry-After` for 429/503, `WWW-Authenticate` for 401) are the HTTP layer's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace strait::control {

enum class ProblemType : uint8_t {
  kMalformedJson,          // 400  not JSON, bad UTF-8, too deep, too many values, duplicate key   ext: offset
  kInvalidRequest,         // 400  field errors (§4.2), bad query parameter                         ext: errors[]
  kInvalidCursor,          // 400  cursor not ours, tampered, or from another list / tenant / filter
  kInvalidIdempotencyKey,  // 400  key not 1..255 printable ASCII
  kUnauthenticated,        // 401  no / bad / revoked API key; bad credential or proof               ext: reason
  kActivationInvalid,      // 401  unknown activation id or wrong MAC (not told apart)
  kForbidden,              // 403  principal not allowed (§3)
  kLicenceExhausted,       // 403  a device activation beyond the seats                             ext: seats, used
  kLicenceExpired,         // 403  a device activation after the licence's expires_at                ext: expires_at
  kTenantSuspended,        // 403  issuing or enrolling in a suspended tenant
  kDeviceLocked,           // 403  renew or self route of a locked device
  kDeviceRevoked,          // 403  ... of a revoked device
  kConnectorRevoked,       // 403  ... of a revoked connector
  kRelayRevoked,           // 403  ... of a revoked relay
  kNotFound,               // 404  no such route or resource, or another tenant's
  kMethodNotAllowed,       // 405  route exists, method does not                                    hdr: Allow
  kRequestTimeout,         // 408  headers not in 10 s, body not in 30 s
  kConflict,               // 409  unique name/email/id taken, state does not allow it              ext: field
  kActivationUsed,         // 409  redeemed already                                                 ext: used_at
  kLimitExceeded,          // 409  a per-tenant or operator count bound (§8)                        ext: limit, max
  kActivationExpired,      // 410  redeemed after expires_at                                        ext: expired_at
  kEventsExpired,          // 410  `after` older than the retained events                           ext: oldest
  kVersionMismatch,        // 412  If-Match is not the policy's version                             ext: version
  kBodyTooLarge,           // 413  beyond the route's body limit                                    ext: max
  kUnsupportedMediaType,   // 415  body without application/json
  kIdempotencyKeyReused,   // 422  same key, same scope, different request
  kActivationOsMismatch,   // 422  the activation fixed an OS, the device reports another           ext: expected
  kRateLimited,            // 429  a token bucket is empty                                          hdr: Retry-After
  kRenewTooSoon,           // 429  a subject renews again within min_renew_interval_s (§6.5)         hdr: Retry-After
  kInternal,               // 500  a bug (counted, logged with the request id)
  kOverloaded,             // 503  store queue full                                                 hdr: Retry-After
  kTooManySubscribers,     // 503  event stream bound                                               hdr: Retry-After
  kStoreBusy,              // 503  the writer lock not had in 5 s                                   hdr: Retry-After
};
inline constexpr size_t kProblemTypeCount = static_cast<size_t>(ProblemType::kStoreBusy) + 1;

struct ProblemInfo {
  ProblemType type;
  std::string_view name;   // "malformed-json"
  uint16_t status;         // 400
  std::string_view title;  // fixed per type (RFC 9457 §3.1.3: does not change between occurrences)
};

// Every row, in enum order (index == enum value).
std::span<const ProblemInfo> ProblemTable();
const ProblemInfo& Info(ProblemType type);
std::optional<ProblemType> ProblemTypeFromName(std::string_view name);  // the client side's reverse lookup
std::string ProblemTypeUri(ProblemType type);                           // "urn:strait:problem:<name>"

// One field error of an invalid-request problem (§4.2).
enum class FieldErrorCode : uint8_t {
  kUnknownField,
  kWrongType,
  kMissingField,
  kOutOfRange,
  kBadFormat,
  kTooManyItems,
  kDuplicateItem,
};
std::string_view FieldErrorCodeName(FieldErrorCode code);  // "unknown_field", ...

struct FieldError {
  std::string pointer;  // RFC 6901, e.g. "/tls_names/3" ("" is the whole body)
  FieldErrorCode code;
  std::string detail;
  friend bool operator==(const FieldError&, const FieldError&) = default;
};

inline constexpr size_t kMaxFieldErrors = 20;  // reported per problem; the detail still counts them all

// RFC 6901 reference token: "~" -> "~0", "/" -> "~1".
std::string EscapePointerToken(std::string_view token);

struct Problem {
  ProblemType type = ProblemType::kInternal;
  std::string detail;  // for this occurrence; never a secret, never a stack trace
  // Extra members (the table's "extensions"): a JSON object. Members named like a standard one (type, title,
  // status, detail, instance, request_id, errors) are ignored by RenderProblem.
  nlohmann::json extensions = nlohmann::json::object();
  std::vector<FieldError> errors;  // at most kMaxFieldErrors are rendered

  uint16_t status() const { return Info(type).status; }
};

Problem MakeProblem(ProblemType type, std::string detail);
// invalid-request for field errors; `total` is how many were found (errors may hold fewer, capped at 20):
// detail "1 field is not valid" / "N fields are not valid".
Problem InvalidRequest(std::vector<FieldError> errors, size_t total);
// invalid-request for a bad query parameter: detail "query parameter <name>: <why>", extension `parameter` (the
// name, or absent when it could not be decoded).
Problem InvalidQueryParameter(std::string_view name, std::string_view why);

// The application/problem+json body: type, title, status, detail, instance (the request path), request_id, the
// extensions, then errors[] if any. Always valid JSON: strings are escaped, invalid UTF-8 in a detail is replaced.
std::string RenderProblem(const Problem& problem, std::string_view instance, std::string_view request_id);

}  // namespace strait::control
