// What a route handler gets and gives back (docs/control-plane.md §1 handlers/, §3, §4). A handler is one small
// synchronous function `Outcome Handle(Context&)`: it runs on the store pool, decodes its body, does its store
// transaction (the change, its audit record and its idempotency record commit together), and returns a Reply or a
// Problem. It never touches the network, so a unit test calls it without a socket.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "control-plane/api/cursor.h"
#include "control-plane/api/problem.h"
#include "control-plane/api/router.h"
#include "control-plane/http/message.h"
#include "control-plane/pki/x509.h"
#include "control-plane/store/sealed.h"
#include "control-plane/store/store.h"
#include "crypto/keys.h"

namespace strait::control {

namespace events {
class Hub;
}

// Who may call a route (§3 "Who may call what"): a bit set per route.
enum Who : uint16_t {
  kWhoOperator = 1 << 0,    // O
  kWhoAdmin = 1 << 1,       // A: a tenant admin key of the path's tenant
  kWhoReadOnly = 1 << 2,    // R: a tenant read-only key of the path's tenant
  kWhoSelf = 1 << 3,        // self: the machine whose id is in the path
  kWhoActivation = 1 << 4,  // X: an activation code (the handler checks it)
  kWhoPublic = 1 << 5,      // P: anyone
  kWhoGrace = 1 << 6,       // with self: an expired credential is accepted within renew_grace_hours (renewal)
};

enum class PrincipalKind : uint8_t { kNone, kOperator, kAdmin, kReadOnly, kDevice, kConnector, kRelay };
std::string_view PrincipalKindName(PrincipalKind kind);  // "operator", "admin", "read_only", "device", ...

struct Principal {
  PrincipalKind kind = PrincipalKind::kNone;
  std::string id;      // the API key id, or the machine's subject
  std::string tenant;  // the key's or machine's tenant; "" for operator keys and relays
  // A machine's: the serial of the credential it authenticated with, and whether that credential had expired (let in
  // within renew_grace_hours on a kWhoGrace route; renewal checks the two-newest rule again in its transaction).
  int64_t credential_serial = 0;
  bool credential_expired = false;
};

struct Reply {
  Reply(unsigned s = 200, nlohmann::json b = nullptr, std::vector<std::pair<std::string, std::string>> h = {})
      : status(s), body(std::move(b)), headers(std::move(h)) {}
  unsigned status = 200;
  nlohmann::json body;  // null: no body (204)
  std::vector<std::pair<std::string, std::string>> headers;
  std::shared_ptr<http::ChunkSource> stream;  // an NDJSON event stream instead of `body`
};
using Outcome = std::variant<Reply, Problem>;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t Now() const = 0;  // unix seconds
};

// The serve config keys handlers read (docs/control-plane.md §2).
struct ServiceConfig {
  std::string public_url;  // https://host:port
  int device_credential_hours = 24;
  int connector_credential_hours = 72;
  int relay_credential_hours = 168;
  int tenant_cert_days = 90;
  int renew_grace_hours = 168;
  int min_renew_interval_s = 60;  // a subject gets at most two credentials in this long (§6.5); 0: no bound
};

// The long-lived parts every handler may use; owned by `serve` (or a test), shared by every request.
struct Services {
  store::Store* store = nullptr;
  const store::Sealer* sealer = nullptr;
  const store::ApiKeyHasher* hasher = nullptr;
  const CursorKey* cursor_key = nullptr;
  const Clock* clock = nullptr;
  const crypto::Ed25519KeyPair* root = nullptr;  // the operator root: signs TenantCerts and relay credentials
  events::Hub* hub = nullptr;                    // the event streams; told after every commit
  const pki::PemPair* tls_ca = nullptr;  // the operator TLS CA (DATA/tls-ca): bundles' ca_pem, relays' TLS leaves
  ServiceConfig config;
};

struct Route;

struct Context {
  const http::Request& request;
  const Route& route;
  const PathParams& params;
  const QueryParams& query;
  const Principal& principal;
  std::optional<store::TenantScope> scope;  // set on every route under /v1/tenants/{tenant}
  Services& services;
  int64_t now = 0;
  nlohmann::json body;                         // the parsed body on POST, PUT and PATCH routes; else null
  std::optional<std::string> idempotency_key;  // a valid Idempotency-Key of a POST
  std::string idempotency_scope;               // whose keys it is among (§4.5): the principal id by default
  // What the Idempotency-Key fingerprint covers instead of the raw body, when set: /v1/activate leaves out its
  // session-bound `mac` and `key_proof`, so a retry on a new connection is the same request.
  std::optional<std::string> fingerprint_body;
};

using HandlerFn = Outcome (*)(Context&);

struct Route {
  Method method;
  std::string_view path;          // the template, e.g. "/v1/tenants/{tenant}/users/{user}"
  std::string_view operation_id;  // the OpenAPI operationId
  uint16_t who;                   // Who bits
  size_t body_limit;              // bytes; refused with 413 before the body is read
  HandlerFn handler;
};

inline constexpr size_t kDefaultBodyLimit = 64 * 1024;
inline constexpr size_t kPolicyBodyLimit = 2 * 1024 * 1024;
inline constexpr size_t kActivateBodyLimit = 16 * 1024;

}  // namespace strait::control
