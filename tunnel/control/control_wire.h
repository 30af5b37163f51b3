// The control plane's wire, as the daemons read it: the authority for the JSON of bundles (docs/control-plane.md
// §6.3), snapshots (§7.2) and events (§7.3), the files a bundle becomes (§6.4), the TLS exporter labels and MAC /
// proof contexts (§3, §6.2), and the stream's bounds (§7.2, §7.4). docs/control-plane.md tells the story; where the
// two differ, this header wins and the page is fixed.
//
// Standard library only: `strait-control` (OpenSSL 3) includes it too, so both ends spell every name from here.
//
// Protocol flow (the daemons' side):
//
//   activate / enroll   POST /v1/activate {Redeem}            -> 200 Bundle + Strait-Activation-Mac header
//   renew               POST .../{subject}/renew {}           -> 200 Bundle         (credential + proof, §3)
//   relay, connector    GET  .../snapshot                     -> 200 Snapshot       (as_of = an event id)
//                       GET  .../events?after=<id>            -> 200 NDJSON: one Event per line, a heartbeat
//                                                                every kHeartbeatInterval when idle
//
// Versions: bundle version 1 — initial format. control.json version 1 — initial format.
//
// Extension rules: readers IGNORE object fields they do not know (a newer server keeps working with an older
// daemon) and REQUIRE the fields they use; an event of an unknown type is skipped by its id (the resume point
// still advances past it). A change to a known field's meaning is a new bundle version / a new event type.
//
// Encodings (§4.1): ids of events are decimal integers in JSON strings ("1235": ids beyond 2^53 stay exact in every
// JSON reader); times are RFC 3339 UTC, whole seconds, with `Z` ("2025-06-01T12:00:00Z"); bytes (keys,
// credentials) are standard base64 with padding.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace strait::control::wire {

// --- TLS exporters, MAC and proof contexts (§3, §6.2) ---

// Every exporter value is kExporterBytes long, with an empty context.
inline constexpr size_t kExporterBytes = 32;
// Machine credentials over HTTPS: proof = Ed25519(credential key, kControlProofContext || 0x00 || role byte ||
// TLS-Exporter(kControlExporterLabel, "", 32)), sent as `Authorization: Strait-Credential cred=..., proof=...`.
inline constexpr std::string_view kControlExporterLabel = "EXPORTER-strait-control-1";
inline constexpr std::string_view kControlProofContext = "strait/control/1";
inline constexpr std::string_view kCredentialAuthScheme = "Strait-Credential";
// What a daemon signs with its credential's key to call the control plane over one TLS connection (§3):
//   Authorization: Strait-Credential cred=<base64 credential>, proof=<base64 Ed25519 signature over this message>
// The message binds the proof to the connection (the exporter), so a copied header is useless on another one.
inline std::string ControlProofMessage(std::string_view role_name, const std::array<uint8_t, 32>& exporter) {
  std::string m(kControlProofContext);
  m.push_back('\0');
  m.append(role_name);
  m.append(reinterpret_cast<const char*>(exporter.data()), exporter.size());
  return m;
}
// Activation (§6.2): E = TLS-Exporter(kActivateExporterLabel, "", 32) binds the code to one TLS session.
inline constexpr std::string_view kActivateExporterLabel = "EXPORTER-strait-activate-1";
// K = HMAC-SHA-256(key = kActivationKeyContext, message = the code's secret).
inline constexpr std::string_view kActivationKeyContext = "strait/activation-key/1";
// key_proof = Ed25519(signing key, kActivateKeyProofContext || 0x00 || E).
inline constexpr std::string_view kActivateKeyProofContext = "strait/activate-key/1";
// mac = HMAC-SHA-256(K, kActivateMacContext || 0x00 || E || activation || kind || signing_key ||
//                       noise_key or 32 zeros || SHA-256(tls_public_key) or 32 zeros).
inline constexpr std::string_view kActivateMacContext = "strait/activate/1";
// The answer's header: kActivationMacHeader = HMAC(K, kActivatedMacContext || 0x00 || E || SHA-256(body)).
inline constexpr std::string_view kActivatedMacContext = "strait/activated/1";
inline constexpr std::string_view kActivationMacHeader = "Strait-Activation-Mac";

// --- Redeem (§6.2): the body of POST /v1/activate ---
//   {"activation":"7K3M9X2P", "kind":"device", "signing_key":"<base64, 32>", "noise_key":"<base64, 32>",
//    "tls_public_key":"<base64, SPKI DER>", "key_proof":"<base64, 64>", "mac":"<base64, 32>",
//    "device":{"os":"linux","os_version":"...","model":"...","name":"...","push_token":"..."}}
inline constexpr std::string_view kActivatePath = "/v1/activate";
inline constexpr std::string_view kRedeemActivationField = "activation";      // the code's 8-character id
inline constexpr std::string_view kRedeemKindField = "kind";                  // kKind* below
inline constexpr std::string_view kRedeemSigningKeyField = "signing_key";     // bytes: Ed25519 public key
inline constexpr std::string_view kRedeemNoiseKeyField = "noise_key";         // bytes: X25519 (device, connector)
inline constexpr std::string_view kRedeemTlsPublicKeyField = "tls_public_key";  // bytes: SPKI DER, P-256 (relay)
inline constexpr std::string_view kRedeemKeyProofField = "key_proof";         // bytes: Ed25519 signature
inline constexpr std::string_view kRedeemMacField = "mac";                    // bytes: HMAC-SHA-256
inline constexpr std::string_view kRedeemDeviceField = "device";              // object, device only
inline constexpr std::string_view kRedeemDeviceOsField = "os";                // required
inline constexpr std::string_view kRedeemDeviceOsVersionField = "os_version";
inline constexpr std::string_view kRedeemDeviceModelField = "model";
inline constexpr std::string_view kRedeemDeviceNameField = "name";
inline constexpr std::string_view kRedeemDevicePushTokenField = "push_token";

// --- Bounds ---

// One NDJSON line of the event stream, without its LF (§7.4): a policy's TOML is <= 1 MiB, so 2 MiB leaves room
// for its JSON escaping. A longer line ends the stream; the client reconnects from its last id (counted).
inline constexpr size_t kMaxEventLineBytes = size_t{2} << 20;
// A whole bundle (the body of /v1/activate and renew): a device's bundle carries its policy (<= 1 MiB of TOML as
// JSON) and up to 64 connectors; the same bound as a line.
inline constexpr size_t kMaxBundleBytes = size_t{2} << 20;
// JSON nesting the daemons accept in a bundle, snapshot or event (the deepest schema is 5: a policy's rules);
// checked before parsing, so hostile nesting costs no recursion.
inline constexpr size_t kMaxJsonDepth = 16;
// The server sends a heartbeat after this long with nothing else to send (§7.2).
inline constexpr std::chrono::seconds kHeartbeatInterval{15};
// A client that has read nothing for this long (three heartbeats) drops the stream and reconnects.
inline constexpr std::chrono::seconds kReadTimeout{45};
// Reconnect backoff of the event stream: first wait, doubling up to the cap, each +-kBackoffJitterPercent
// (the dialer's numbers, §7.2).
inline constexpr std::chrono::milliseconds kBackoffInitial{200};
inline constexpr std::chrono::milliseconds kBackoffMax{30'000};
inline constexpr unsigned kBackoffJitterPercent = 20;
// Renewal (§6.5): renew_after gets +-kRenewJitterPercent; failed renewals retry from kRenewBackoffInitial doubling
// up to kRenewBackoffMax, until not_after.
inline constexpr unsigned kRenewJitterPercent = 5;
inline constexpr std::chrono::seconds kRenewBackoffInitial{30};
inline constexpr std::chrono::seconds kRenewBackoffMax{600};
// Ids: tenant [a-z0-9-]{1,64}; subjects (device, connector, relay ids) [a-z0-9._-]{1,64} (§4.1).
inline constexpr size_t kMaxIdBytes = 64;
// Connectors in a device bundle (the per-tenant bound, §8) and relays in any bundle (the operator bound).
inline constexpr size_t kMaxBundleConnectors = 64;
inline constexpr size_t kMaxBundleRelays = 256;
// A relay endpoint "HOST:PORT": a DNS name (<= 253) or an IP literal in brackets, a colon, 1..5 digits.
inline constexpr size_t kMaxEndpointBytes = 261;
// The control plane's URL in a bundle and in control.json.
inline constexpr size_t kMaxUrlBytes = 2048;
// A snapshot body (§7.2): a connector's carries its tenant's policies (<= 64, each <= 1 MiB of TOML), so the bound
// is above 64 MiB of JSON-escaped TOML; lists are bounded by the control plane's own limits (§8).
inline constexpr size_t kMaxSnapshotBytes = size_t{96} << 20;
inline constexpr size_t kMaxSnapshotDenials = 1'000'000;        // the relay's DenyList default bound
inline constexpr size_t kMaxSnapshotTenants = 10'000;           // operator bound on tenants
inline constexpr size_t kMaxSnapshotPolicies = 64;              // per-tenant bound on policies
inline constexpr size_t kMaxSnapshotDevicePolicies = 200'000;   // per-tenant bound on devices
inline constexpr size_t kMaxPolicyTomlBytes = size_t{1} << 20;  // a rendered policy (§4.9)

// --- Bundle (§6.3): the answer to activation and renewal ---
//
//   {"version":1, "kind":"device", "tenant":"acme", "subject":"d-...", "credential":"<base64>",
//    "root_public_key":"<base64, 32 bytes>", "ca_pem":"-----BEGIN CERTIFICATE-----\n...",
//    "tls_cert_pem":"...",                                          (relay only: leaf + CA)
//    "relays":[{"id":"relay-1","device":"host:443","connector":"host:3101"}],
//    "connectors":[{"id":"dc-east","noise_key":"<base64, 32 bytes>"}], (device only)
//    "policy":{"id":"p-...","version":3,"app":{...},"tunnel":{...}},  (device only; absent or null: none)
//    "control":{"url":"https://...","renew_after":"<time>","not_after":"<time>"}}
inline constexpr int kBundleVersion = 1;
inline constexpr std::string_view kBundleVersionField = "version";           // integer, kBundleVersion
inline constexpr std::string_view kBundleKindField = "kind";                 // kKind* below
inline constexpr std::string_view kBundleTenantField = "tenant";             // tenant id; absent or "" for relay
inline constexpr std::string_view kBundleSubjectField = "subject";           // the credential's subject id
inline constexpr std::string_view kBundleCredentialField = "credential";     // bytes: Credential (crypto/credential.h)
inline constexpr std::string_view kBundleRootKeyField = "root_public_key";   // bytes: the 32-byte Ed25519 root key
inline constexpr std::string_view kBundleCaPemField = "ca_pem";              // device, connector: the relays' TLS CA
inline constexpr std::string_view kBundleTlsCertField = "tls_cert_pem";      // relay: its TLS chain (leaf + CA)
inline constexpr std::string_view kBundleRelaysField = "relays";             // [Relay endpoint]
inline constexpr std::string_view kBundleConnectorsField = "connectors";     // device: [Connector]
inline constexpr std::string_view kBundlePolicyField = "policy";             // device: object or null
inline constexpr std::string_view kBundleControlField = "control";           // object, below
// Relay endpoint (bundle, control.json):
inline constexpr std::string_view kRelayIdField = "id";                // relay id
inline constexpr std::string_view kRelayDeviceField = "device";        // HOST:PORT devices dial
inline constexpr std::string_view kRelayConnectorField = "connector";  // HOST:PORT connectors dial
// Connector (device bundle):
inline constexpr std::string_view kConnectorIdField = "id";            // connector id
inline constexpr std::string_view kConnectorNoiseKeyField = "noise_key";  // bytes: its 32-byte X25519 key
// Control (bundle "control"):
inline constexpr std::string_view kControlUrlField = "url";                 // https://host:port of strait-control
inline constexpr std::string_view kControlRenewAfterField = "renew_after";  // time: renew from then on
inline constexpr std::string_view kControlNotAfterField = "not_after";      // time: the credential's not_after

// Kinds (bundle "kind"; the credential's role by name).
inline constexpr std::string_view kKindDevice = "device";
inline constexpr std::string_view kKindConnector = "connector";
inline constexpr std::string_view kKindRelay = "relay";

// --- The files a bundle adds to the identity directory (§6.4; crypto/keystore.h names the others) ---
inline constexpr std::string_view kConnectorsDir = "connectors";     // connectors/<id>.pub: PEM X25519, device
inline constexpr std::string_view kConnectorKeySuffix = ".pub";
inline constexpr std::string_view kPolicyFile = "policy.json";       // the bundle's policy object, device
inline constexpr std::string_view kControlFile = "control.json";     // below, every kind
// control.json, version 1 (written by tunnel/control/bundle.cc, read by the daemons):
//   {"version":1, "kind":"device", "tenant":"acme", "subject":"d-...", "url":"https://...",
//    "renew_after":"<time>", "not_after":"<time>", "relays":[{"id":..,"device":..,"connector":..}]}
inline constexpr int kControlFileVersion = 1;
inline constexpr std::string_view kControlFileUrlField = "url";
// (kind, tenant, subject, renew_after, not_after, relays: the bundle's field names above.)

// --- Snapshots (§7.2) ---
//   RelaySnapshot:     {as_of, denied:[Denial], suspended_tenants:[tenant], revoked_relays:[relay]}
//   ConnectorSnapshot: {as_of, tenant_state, policies:[{id, version, default, toml}],
//                       device_policies:[{device, policy}], denied:[Denial], revoked_relays:[relay]}
//   Denial:            {tenant, role, subject, reason, until}
inline constexpr std::string_view kSnapshotAsOfField = "as_of";                 // event id: follow with after=as_of
inline constexpr std::string_view kSnapshotDeniedField = "denied";
inline constexpr std::string_view kSnapshotSuspendedTenantsField = "suspended_tenants";
inline constexpr std::string_view kSnapshotRevokedRelaysField = "revoked_relays";
inline constexpr std::string_view kSnapshotTenantStateField = "tenant_state";   // "active" | "suspended"
inline constexpr std::string_view kSnapshotPoliciesField = "policies";
inline constexpr std::string_view kSnapshotDevicePoliciesField = "device_policies";
inline constexpr std::string_view kDenialTenantField = "tenant";
inline constexpr std::string_view kDenialRoleField = "role";                    // "device" | "connector"
inline constexpr std::string_view kDenialSubjectField = "subject";
inline constexpr std::string_view kDenialReasonField = "reason";
inline constexpr std::string_view kDenialUntilField = "until";                  // time
// ConnectorSnapshot policies[] and device_policies[]:
inline constexpr std::string_view kSnapshotPolicyIdField = "id";
inline constexpr std::string_view kSnapshotPolicyVersionField = "version";      // integer
inline constexpr std::string_view kSnapshotPolicyDefaultField = "default";      // bool
inline constexpr std::string_view kSnapshotPolicyTomlField = "toml";            // canonical TOML (docs/policy.md)
inline constexpr std::string_view kSnapshotDeviceField = "device";              // device id
inline constexpr std::string_view kSnapshotDevicePolicyField = "policy";        // policy id
inline constexpr std::string_view kTenantStateActive = "active";
inline constexpr std::string_view kTenantStateSuspended = "suspended";

// --- Events (§7.3): one JSON object per NDJSON line ---
//   {"id":"1235","at":"<time>","type":"device.revoked","tenant":"acme","device":"d-...","until":"<time>",
//    "reason":"lost"}
//   {"type":"heartbeat","id":"<last id considered>"}
inline constexpr std::string_view kEventIdField = "id";            // decimal string, increasing along the stream
inline constexpr std::string_view kEventAtField = "at";            // time the change committed (informational)
inline constexpr std::string_view kEventTypeField = "type";        // kEvent* below
inline constexpr std::string_view kEventTenantField = "tenant";
inline constexpr std::string_view kEventDeviceField = "device";
inline constexpr std::string_view kEventConnectorField = "connector";
inline constexpr std::string_view kEventRelayField = "relay";
inline constexpr std::string_view kEventUntilField = "until";      // time: a denial lasts until then
inline constexpr std::string_view kEventReasonField = "reason";
inline constexpr std::string_view kEventPolicyField = "policy";    // policy id (device.policy: or null = default)
inline constexpr std::string_view kEventVersionField = "version";  // integer, the policy's version
inline constexpr std::string_view kEventDefaultField = "default";  // bool, the tenant's default policy
inline constexpr std::string_view kEventTomlField = "toml";        // the canonical policy TOML (docs/policy.md)

// Event types, with the fields each carries (beyond id, at, type). Relay / connector actions: §7.3.
inline constexpr std::string_view kEventHeartbeat = "heartbeat";                 // (id only)
inline constexpr std::string_view kEventDeviceLocked = "device.locked";          // tenant, device, until, reason
inline constexpr std::string_view kEventDeviceRevoked = "device.revoked";        // tenant, device, until, reason
inline constexpr std::string_view kEventDeviceUnlocked = "device.unlocked";      // tenant, device
inline constexpr std::string_view kEventConnectorRevoked = "connector.revoked";  // tenant, connector, until
inline constexpr std::string_view kEventRelayRevoked = "relay.revoked";          // relay, until
inline constexpr std::string_view kEventTenantSuspended = "tenant.suspended";    // tenant
inline constexpr std::string_view kEventTenantResumed = "tenant.resumed";        // tenant
inline constexpr std::string_view kEventTenantDeleted = "tenant.deleted";        // tenant
inline constexpr std::string_view kEventPolicyUpdated = "policy.updated";  // tenant, policy, version, default, toml
inline constexpr std::string_view kEventPolicyDeleted = "policy.deleted";  // tenant, policy
inline constexpr std::string_view kEventDevicePolicy = "device.policy";    // tenant, device, policy (null: default)
inline constexpr std::string_view kEventResync = "resync";                 // tenant (or null: all), reason

// --- Times: RFC 3339 UTC, whole seconds, `Z` (§4.1) ---

// "YYYY-MM-DDTHH:MM:SSZ" exactly (20 bytes, upper-case T and Z, years 1970..9999) -> unix seconds; nullopt for
// anything else (offsets, fractions, lower case, out-of-range fields such as Feb 30 or 24:00:00).
inline std::optional<uint64_t> ParseTime(std::string_view s) {
  if (s.size() != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
      s[19] != 'Z') {
    return std::nullopt;
  }
  auto num = [&s](size_t at, size_t n, unsigned* out) {
    unsigned v = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      v = v * 10 + static_cast<unsigned>(s[i] - '0');
    }
    *out = v;
    return true;
  };
  unsigned y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
  if (!num(0, 4, &y) || !num(5, 2, &mo) || !num(8, 2, &d) || !num(11, 2, &h) || !num(14, 2, &mi) ||
      !num(17, 2, &se)) {
    return std::nullopt;
  }
  const std::chrono::year_month_day ymd{std::chrono::year{static_cast<int>(y)}, std::chrono::month{mo},
                                        std::chrono::day{d}};
  if (y < 1970 || !ymd.ok() || h > 23 || mi > 59 || se > 59) return std::nullopt;  // no leap seconds
  const auto days = std::chrono::sys_days{ymd}.time_since_epoch().count();
  return static_cast<uint64_t>(days) * 86'400 + h * 3'600 + mi * 60 + se;
}

// Unix seconds -> "YYYY-MM-DDTHH:MM:SSZ" (the inverse of ParseTime for years up to 9999).
inline std::string FormatTime(uint64_t unix_seconds) {
  const std::chrono::sys_days days{std::chrono::days{static_cast<int64_t>(unix_seconds / 86'400)}};
  const std::chrono::year_month_day ymd{days};
  const uint64_t rest = unix_seconds % 86'400;
  const unsigned parts[6] = {static_cast<unsigned>(static_cast<int>(ymd.year())),
                             static_cast<unsigned>(ymd.month()),
                             static_cast<unsigned>(ymd.day()),
                             static_cast<unsigned>(rest / 3'600),
                             static_cast<unsigned>(rest / 60 % 60),
                             static_cast<unsigned>(rest % 60)};
  const size_t widths[6] = {4, 2, 2, 2, 2, 2};
  const char seps[6] = {'-', '-', 'T', ':', ':', 'Z'};
  std::string out;
  out.reserve(20);
  for (size_t i = 0; i < 6; ++i) {
    std::array<char, 4> digits{};
    unsigned v = parts[i];
    for (size_t k = widths[i]; k-- > 0;) {
      digits[k] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
    out.append(digits.data(), widths[i]);
    out.push_back(seps[i]);
  }
  return out;
}

// An event id: 1..20 decimal digits without a leading zero (except "0"), within uint64. nullopt otherwise.
inline std::optional<uint64_t> ParseEventId(std::string_view s) {
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - digit) / 10) return std::nullopt;
    v = v * 10 + digit;
  }
  return v;
}

// Subject ids (device, connector, relay): [a-z0-9._-]{1,64}. Also what keeps connectors/<id>.pub inside its
// directory: no '/', and "." / ".." are refused by name.
inline bool IsSubjectId(std::string_view s) {
  if (s.empty() || s.size() > kMaxIdBytes || s == "." || s == "..") return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}
// Tenant ids: [a-z0-9-]{1,64}.
inline bool IsTenantId(std::string_view s) {
  if (s.empty() || s.size() > kMaxIdBytes) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace strait::control::wire
