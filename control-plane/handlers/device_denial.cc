#include "control-plane/handlers/device_denial.h"

#include <algorithm>

#include "control-plane/handlers/common.h"
#include "tunnel/control/control_wire.h"

namespace strait::control {
namespace {

store::EventRecord DeviceEvent(const Context& ctx, std::string_view type, nlohmann::json body) {
  store::EventRecord e;
  e.at = ctx.now;
  e.tenant = ctx.scope->tenant();
  e.type = std::string(type);
  e.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return e;
}

}  // namespace

store::StoreResult<int64_t> DenialUntil(store::ReadTx& tx, const store::TenantScope& scope, std::string_view device,
                                        int64_t now) {
  // Every credential the store keeps for the device may still be valid (an older one outlives the newest when the
  // credential lifetime was lowered in between): the denial lasts until the last of them expires.
  auto kept = tx.NewestCredentials(scope, store::SubjectRole::kDevice, device, store::kCredentialsPerSubject);
  if (!kept) return Fail(kept.error());
  if (kept->empty()) return now;
  int64_t until = kept->front().not_after;
  for (const store::CredentialRecord& c : *kept) until = std::max(until, c.not_after);
  return until;
}

store::StoreResult<int64_t> DenyDevice(const Context& ctx, store::WriteTx& tx, std::string_view device,
                                       store::DenialReason denial, std::string_view event_type,
                                       std::string_view reason) {
  auto until = DenialUntil(tx, *ctx.scope, device, ctx.now);
  if (!until) return until;
  if (auto put = tx.PutDenial(*ctx.scope, store::SubjectRole::kDevice, device, denial, *until, ctx.now); !put) {
    return Fail(put.error());
  }
  nlohmann::json body = {{wire::kEventTypeField, event_type},
                         {wire::kEventTenantField, ctx.scope->tenant()},
                         {wire::kEventDeviceField, device},
                         {wire::kEventUntilField, TimeJson(*until)},
                         {wire::kEventReasonField, reason}};
  if (auto appended = tx.AppendEvent(DeviceEvent(ctx, event_type, std::move(body))); !appended) {
    return Fail(appended.error());
  }
  return until;
}

store::StoreResult<void> LiftDeviceLock(const Context& ctx, store::WriteTx& tx, std::string_view device,
                                      std::string_view reason) {
  if (auto deleted = tx.DeleteDenial(*ctx.scope, store::SubjectRole::kDevice, device); !deleted) {
    return Fail(deleted.error());
  }
  nlohmann::json body = {{wire::kEventTypeField, wire::kEventDeviceUnlocked},
                         {wire::kEventTenantField, ctx.scope->tenant()},
                         {wire::kEventDeviceField, device},
                         {wire::kEventReasonField, reason}};
  if (auto appended = tx.AppendEvent(DeviceEvent(ctx, wire::kEventDeviceUnlocked, std::move(body))); !appended) {
    return Fail(appended.error());
  }
  return {};
}

}  // namespace strait::control
