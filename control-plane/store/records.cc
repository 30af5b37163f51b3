// The words of the store's enums (records.h): one table per enum, so ToString and Parse cannot disagree.
#include "control-plane/store/records.h"

#include <array>
#include <cstddef>

#include "control-plane/store/store.h"

namespace strait::control::store {
namespace {

template <class E, size_t N>
std::string_view Word(const std::array<std::string_view, N>& words, E v) {
  return words[static_cast<size_t>(v)];
}

template <class E, size_t N>
std::optional<E> Find(const std::array<std::string_view, N>& words, std::string_view s) {
  for (size_t i = 0; i < N; ++i) {
    if (words[i] == s) return static_cast<E>(i);
  }
  return std::nullopt;
}

// Each array is in the enum's declaration order.
constexpr std::array<std::string_view, 2> kTenantStates = {"active", "suspended"};
constexpr std::array<std::string_view, 3> kApiKeyRoles = {"operator", "admin", "read_only"};
constexpr std::array<std::string_view, 3> kSubjectRoles = {"device", "connector", "relay"};
constexpr std::array<std::string_view, 3> kDeviceStates = {"active", "locked", "revoked"};
constexpr std::array<std::string_view, 6> kDeviceOses = {"ios",       "macos",        "android",
                                                         "windows10", "blackberry10", "linux"};
constexpr std::array<std::string_view, 4> kPushServices = {"apns", "fcm", "wns", "none"};
constexpr std::array<std::string_view, 3> kEnrolStates = {"pending", "active", "revoked"};
constexpr std::array<std::string_view, 5> kActivationStates = {"pending", "used", "expired", "cancelled", "burned"};
constexpr std::array<std::string_view, 3> kDenialReasons = {"revoked", "locked", "deleted"};
constexpr std::array<std::string_view, 6> kActorKinds = {"api_key", "device",     "connector",
                                                         "relay",   "activation", "system"};
constexpr std::array<std::string_view, 2> kTargetKinds = {"user", "group"};
constexpr std::array<std::string_view, 5> kStoreErrorCodes = {"conflict", "busy", "limit", "corrupt", "io"};

}  // namespace

std::string_view ToString(TenantState v) { return Word(kTenantStates, v); }
std::string_view ToString(ApiKeyRole v) { return Word(kApiKeyRoles, v); }
std::string_view ToString(SubjectRole v) { return Word(kSubjectRoles, v); }
std::string_view ToString(DeviceState v) { return Word(kDeviceStates, v); }
std::string_view ToString(DeviceOs v) { return Word(kDeviceOses, v); }
std::string_view ToString(PushService v) { return Word(kPushServices, v); }
std::string_view ToString(EnrolState v) { return Word(kEnrolStates, v); }
std::string_view ToString(ActivationState v) { return Word(kActivationStates, v); }
std::string_view ToString(DenialReason v) { return Word(kDenialReasons, v); }
std::string_view ToString(ActorKind v) { return Word(kActorKinds, v); }
std::string_view ToString(TargetKind v) { return Word(kTargetKinds, v); }
std::string_view ToString(StoreErrorCode v) { return Word(kStoreErrorCodes, v); }

std::optional<TenantState> ParseTenantState(std::string_view s) { return Find<TenantState>(kTenantStates, s); }
std::optional<ApiKeyRole> ParseApiKeyRole(std::string_view s) { return Find<ApiKeyRole>(kApiKeyRoles, s); }
std::optional<SubjectRole> ParseSubjectRole(std::string_view s) { return Find<SubjectRole>(kSubjectRoles, s); }
std::optional<DeviceState> ParseDeviceState(std::string_view s) { return Find<DeviceState>(kDeviceStates, s); }
std::optional<DeviceOs> ParseDeviceOs(std::string_view s) { return Find<DeviceOs>(kDeviceOses, s); }
std::optional<PushService> ParsePushService(std::string_view s) { return Find<PushService>(kPushServices, s); }
std::optional<EnrolState> ParseEnrolState(std::string_view s) { return Find<EnrolState>(kEnrolStates, s); }
std::optional<ActivationState> ParseActivationState(std::string_view s) {
  return Find<ActivationState>(kActivationStates, s);
}
std::optional<DenialReason> ParseDenialReason(std::string_view s) { return Find<DenialReason>(kDenialReasons, s); }
std::optional<ActorKind> ParseActorKind(std::string_view s) { return Find<ActorKind>(kActorKinds, s); }
std::optional<TargetKind> ParseTargetKind(std::string_view s) { return Find<TargetKind>(kTargetKinds, s); }

PushService PushServiceFor(DeviceOs os) {
  switch (os) {
    case DeviceOs::kIos:
    case DeviceOs::kMacos: return PushService::kApns;
    case DeviceOs::kAndroid: return PushService::kFcm;
    case DeviceOs::kWindows10: return PushService::kWns;
    case DeviceOs::kBlackberry10:
    case DeviceOs::kLinux: return PushService::kNone;
  }
  return PushService::kNone;
}

}  // namespace strait::control::store
