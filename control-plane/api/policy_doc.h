// A policy's JSON (PolicyWrite, docs/control-plane.md §4.9) and the canonical TOML connectors load
// (docs/policy.md). The JSON fields are the TOML keys, spelt the same: `app.allow` / `app.deny` are the file's
// `[[allow]]` / `[[deny]]`, `tunnel` its `[tunnel]` table.
//
// Decoding checks shape only (types, list sizes, pattern lengths); what a host pattern, CIDR or port means is the
// connector's business, so CheckPolicy renders the TOML and runs the connector's own ParsePolicy (strait_policy)
// over it: a policy the control plane accepts is one every connector of this version loads. ParsePolicy's first
// error (`allow[1].cidrs[0]: bad CIDR ...`) comes back as an invalid-request field error at the JSON pointer of the
// same item (`/app/allow/1/cidrs/0`).
//
// Sans-I/O and TLS-free: nlohmann JSON, fmt and strait_policy (toml++).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "control-plane/api/dto.h"
#include "control-plane/api/json_reader.h"
#include "control-plane/api/problem.h"
#include "crypto/result.h"

namespace strait::control {

// Bounds (docs/policy.md "Errors and bounds"; §4.9). The rule and item bounds are ParsePolicy's too; the decoder
// checks them first so a hostile body is refused before anything is rendered.
inline constexpr size_t kMaxPolicyRulesTotal = 10'000;    // app and tunnel rules together
inline constexpr size_t kMaxPolicyItemsTotal = 100'000;   // hosts + cidrs + ports (+ protocols) items in all
inline constexpr size_t kMaxPolicyPatternBytes = 255;     // one host pattern, CIDR or port range
inline constexpr size_t kMaxPolicyTomlBytes = 1 << 20;    // a rendered policy (limit-exceeded beyond it)
inline constexpr size_t kMaxTunnelRoutesJson = 64;
inline constexpr size_t kMaxTunnelDnsServersJson = 4;
inline constexpr size_t kMaxTunnelDnsDomainsJson = 16;

// The JSON reader's bounds for policy bodies (routes with kPolicyBodyLimit): a policy at its item bound is about
// 100,000 strings plus 4 values per rule, beyond the default 20,000 values.
inline constexpr JsonLimits kPolicyJsonLimits{16, kMaxPolicyItemsTotal + 5 * kMaxPolicyRulesTotal + 1'000, 65'536};

// An `[[allow]]` / `[[deny]]` rule. Absent and empty lists differ (an allow rule needs ports; `ports = []` is an
// error, no `ports` in a deny rule means every port), so each list is optional.
struct AppRule {
  std::optional<std::vector<std::string>> hosts;
  std::optional<std::vector<std::string>> cidrs;
  std::optional<std::vector<std::string>> ports;  // "443", "8000-8100", "*"
  friend bool operator==(const AppRule&, const AppRule&) = default;
};

// A `[[tunnel.allow]]` / `[[tunnel.deny]]` rule.
struct TunnelRuleDoc {
  std::vector<std::string> cidrs;                     // IPv4, required
  std::optional<std::vector<std::string>> protocols;  // tcp, udp, icmp
  std::optional<std::vector<std::string>> ports;
  friend bool operator==(const TunnelRuleDoc&, const TunnelRuleDoc&) = default;
};

struct TunnelDoc {
  std::optional<std::vector<std::string>> routes;
  std::optional<std::vector<std::string>> dns_servers;
  std::optional<std::vector<std::string>> dns_domains;
  std::optional<bool> device_to_device;
  std::vector<TunnelRuleDoc> allow;
  std::vector<TunnelRuleDoc> deny;
  friend bool operator==(const TunnelDoc&, const TunnelDoc&) = default;
};

// POST /policies, PUT /policies/{policy}
struct PolicyWrite {
  std::string name;
  bool is_default = false;  // JSON `default`
  std::vector<AppRule> allow;  // JSON app.allow
  std::vector<AppRule> deny;   // JSON app.deny
  std::optional<TunnelDoc> tunnel;
  friend bool operator==(const PolicyWrite&, const PolicyWrite&) = default;
};

Result<PolicyWrite, Problem> DecodePolicyWrite(const nlohmann::json& body);
// {name, default, app, tunnel?}: decode(EncodePolicyWrite(x)) == x.
nlohmann::json EncodePolicyWrite(const PolicyWrite& v);
// {app, tunnel?}: the rules alone (what the store keeps as the document; name and default are columns).
nlohmann::json EncodePolicyRules(const PolicyWrite& v);

// The canonical TOML of docs/policy.md: `version = 1`, the [[allow]] then [[deny]] tables, then [tunnel] and its
// rule tables, each list present in the JSON written in the JSON's order. Pure; not yet validated.
std::string RenderPolicyToml(const PolicyWrite& v);

// Renders and validates: the TOML, or 409 limit-exceeded {limit: "policy_toml_bytes", max} when it is over 1 MiB,
// or 400 invalid-request with the connector parser's first error at its JSON pointer.
Result<std::string, Problem> CheckPolicy(const PolicyWrite& v);

// ParsePolicy's field path -> JSON pointer: "allow[1].cidrs[0]" -> "/app/allow/1/cidrs/0",
// "tunnel.routes[2]" -> "/tunnel/routes/2". nullopt for a path it does not know.
std::optional<std::string> PolicyFieldPointer(std::string_view field);

}  // namespace strait::control
