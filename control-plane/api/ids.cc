#include "control-plane/api/ids.h"

#include <algorithm>
#include <array>
#include <cassert>

#include <sodium.h>

namespace strait::control {
namespace {

bool IsLowerBase32(char c) { return (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'); }
bool IsCrockfordUpper(char c) { return kCrockford.find(c) != std::string_view::npos; }

bool AllOf(std::string_view s, bool (*pred)(char)) {
  for (char c : s) {
    if (!pred(c)) return false;
  }
  return true;
}

bool IsChosenId(std::string_view id, bool allow_dot_underscore) {
  if (id.empty() || id.size() > kMaxChosenIdBytes) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
              (allow_dot_underscore && (c == '.' || c == '_'));
    if (!ok) return false;
  }
  return true;
}

std::string_view PrefixOf(IdKind kind) {
  switch (kind) {
    case IdKind::kUser: return "u-";
    case IdKind::kGroup: return "g-";
    case IdKind::kDevice: return "d-";
    case IdKind::kPolicy: return "p-";
    case IdKind::kAssignment: return "pa-";
    default: return {};
  }
}

struct ParamRow {
  std::string_view name;
  IdKind kind;
};
constexpr std::array<ParamRow, 10> kParams = {{
    {"tenant", IdKind::kTenant},
    {"connector", IdKind::kConnector},
    {"relay", IdKind::kRelay},
    {"user", IdKind::kUser},
    {"group", IdKind::kGroup},
    {"device", IdKind::kDevice},
    {"policy", IdKind::kPolicy},
    {"assignment", IdKind::kAssignment},
    {"key", IdKind::kApiKey},
    {"activation", IdKind::kActivation},
}};

}  // namespace

bool IsValidId(IdKind kind, std::string_view id) {
  switch (kind) {
    case IdKind::kTenant: return IsChosenId(id, /*allow_dot_underscore=*/false);
    case IdKind::kConnector:
    case IdKind::kRelay: return IsChosenId(id, /*allow_dot_underscore=*/true);
    case IdKind::kUser:
    case IdKind::kGroup:
    case IdKind::kDevice:
    case IdKind::kPolicy:
    case IdKind::kAssignment: {
      std::string_view prefix = PrefixOf(kind);
      return id.size() == prefix.size() + kServerIdRandomChars && id.substr(0, prefix.size()) == prefix &&
             AllOf(id.substr(prefix.size()), IsLowerBase32);
    }
    case IdKind::kApiKey: return id.size() == kApiKeyIdChars && AllOf(id, IsLowerBase32);
    case IdKind::kActivation: return id.size() == kActivationIdChars && AllOf(id, IsCrockfordUpper);
  }
  return false;
}

std::optional<IdKind> IdKindForParam(std::string_view param_name) {
  for (const ParamRow& row : kParams) {
    if (row.name == param_name) return row.kind;
  }
  return std::nullopt;
}

std::string_view IdKindName(IdKind kind) {
  switch (kind) {
    case IdKind::kTenant: return "tenant";
    case IdKind::kConnector: return "connector";
    case IdKind::kRelay: return "relay";
    case IdKind::kUser: return "user";
    case IdKind::kGroup: return "group";
    case IdKind::kDevice: return "device";
    case IdKind::kPolicy: return "policy";
    case IdKind::kAssignment: return "assignment";
    case IdKind::kApiKey: return "api_key";
    case IdKind::kActivation: return "activation";
  }
  return "unknown";
}

std::string RandomBase32(size_t n) {
  // Each character from one random byte's low five bits: 256 is a multiple of 32, so every character is uniform.
  std::string out(n, '\0');
  std::array<uint8_t, 64> raw{};
  for (size_t done = 0; done < n; done += raw.size()) {
    const size_t take = std::min(raw.size(), n - done);
    randombytes_buf(raw.data(), take);
    for (size_t i = 0; i < take; ++i) out[done + i] = kBase32Lower[raw[i] & 31u];
  }
  sodium_memzero(raw.data(), raw.size());
  return out;
}

std::string GenerateId(IdKind kind) {
  if (kind == IdKind::kApiKey) return RandomBase32(kApiKeyIdChars);
  std::string_view prefix = PrefixOf(kind);
  assert(!prefix.empty() && "GenerateId: not a server-chosen id kind");
  return std::string(prefix) + RandomBase32(kServerIdRandomChars);
}

}  // namespace strait::control
