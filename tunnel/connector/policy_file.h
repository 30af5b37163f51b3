// Loading a Policy from TOML (the format is in docs/policy.md; an example is docs/examples/policy.toml).
// Setup path: returns Result, never throws. Errors read "<file>:<line>:<column>: <field>: <what>", e.g.
//   policy.toml:12:11: allow[1].cidrs[0]: bad CIDR "10.20.1.0/16": host bits set (did you mean 10.20.0.0/16?)
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "crypto/result.h"
#include "tunnel/connector/policy.h"

namespace strait::connector {

// Bounds on what a policy file may hold (a file beyond them is refused, not truncated).
inline constexpr size_t kMaxPolicyFileSize = 8 * 1024 * 1024;
inline constexpr size_t kMaxPolicyRules = 10'000;    // [[allow]] plus [[deny]] tables
inline constexpr size_t kMaxPolicyEntries = 100'000;  // hosts plus cidrs plus ports items, all rules together
inline constexpr size_t kMaxPatternSize = 255;        // a host pattern or CIDR string

enum class PolicyErrorCode : uint8_t {
  kIo,            // the file could not be read, or is too large
  kSyntax,        // not TOML
  kUnknownKey,    // a key the format does not define (a typo must not silently widen or narrow the policy)
  kBadType,       // e.g. a string where an array belongs
  kBadHost,
  kBadCidr,
  kBadPort,
  kEmptyRule,     // neither hosts nor cidrs, or an allow rule without ports
  kTooLarge,      // beyond the bounds above
  kBadVersion,
};

using PolicyError = Error<PolicyErrorCode>;

// `source_name` names the text in error messages (the file's path when loading a file).
Result<Policy, PolicyError> ParsePolicy(std::string_view toml_text, std::string_view source_name);
Result<Policy, PolicyError> LoadPolicyFile(const std::filesystem::path& path);

}  // namespace strait::connector
