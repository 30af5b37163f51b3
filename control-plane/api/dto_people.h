// Request decoding for users, groups and devices (docs/control-plane.md §4.9): UserPatch, GroupCreate / GroupPatch,
// DevicePatch, Reason and PushToken, read through dto.h's ObjectReader (UserCreate lives in dto.h). Each has an
// encoder with the same field names, so decode(encode(x)) == x (tests and control_dto_fuzzer check it).
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "control-plane/api/dto.h"

namespace strait::control {

inline constexpr TextBounds kDescriptionBounds{0, 1024, false};  // a group's description
inline constexpr size_t kMaxPushTokenBytes = 4096;                // PushToken.token, printable ASCII

// PATCH /users/{user}: absent fields stay as they are.
struct UserPatch {
  std::optional<std::string> email;  // lower case
  std::optional<std::string> display_name;
  friend bool operator==(const UserPatch&, const UserPatch&) = default;
};
Result<UserPatch, Problem> DecodeUserPatch(const nlohmann::json& body);
nlohmann::json EncodeUserPatch(const UserPatch& v);

// POST /groups
struct GroupCreate {
  std::string name;
  std::string description;  // absent: ""
  friend bool operator==(const GroupCreate&, const GroupCreate&) = default;
};
Result<GroupCreate, Problem> DecodeGroupCreate(const nlohmann::json& body);
nlohmann::json EncodeGroupCreate(const GroupCreate& v);

// PATCH /groups/{group}
struct GroupPatch {
  std::optional<std::string> name;
  std::optional<std::string> description;
  friend bool operator==(const GroupPatch&, const GroupPatch&) = default;
};
Result<GroupPatch, Problem> DecodeGroupPatch(const nlohmann::json& body);
nlohmann::json EncodeGroupPatch(const GroupPatch& v);

// PATCH /devices/{device}
struct DevicePatch {
  std::optional<std::string> name;
  friend bool operator==(const DevicePatch&, const DevicePatch&) = default;
};
Result<DevicePatch, Problem> DecodeDevicePatch(const nlohmann::json& body);
nlohmann::json EncodeDevicePatch(const DevicePatch& v);

// POST /devices/{device}/lock, unlock, revoke: why, for the audit record and the event (0..256 bytes).
struct Reason {
  std::string reason;  // absent: ""
  friend bool operator==(const Reason&, const Reason&) = default;
};
Result<Reason, Problem> DecodeReason(const nlohmann::json& body);
nlohmann::json EncodeReason(const Reason& v);

// PUT /devices/{device}/push-token: `token` is required; null clears it. Which service it is for follows the
// device's os (the handler's check: an os without a push service refuses a token).
struct PushToken {
  std::optional<std::string> token;  // 1..4,096 bytes of printable ASCII; nullopt: clear
  friend bool operator==(const PushToken&, const PushToken&) = default;
};
Result<PushToken, Problem> DecodePushToken(const nlohmann::json& body);
nlohmann::json EncodePushToken(const PushToken& v);

}  // namespace strait::control
