// Devices, the admin's side (docs/control-plane.md §4.8 Tenant, §4.9 Device): list (?user=&state=&os=), read,
// rename, lock / unlock / revoke, delete, and the push token. Devices are made by activation (activations.cc).
//
// States: active <-> locked (unlock), active | locked -> revoked (final). Locking or revoking puts a denial until
// the newest credential's not_after (device_denial.h) and appends the event relays and connectors act on, in the
// same write transaction as the state, so a 200 means the cut-off is durable and on its way.
#include <fmt/format.h>

#include "control-plane/api/dto_people.h"
#include "control-plane/handlers/common.h"
#include "control-plane/handlers/device_denial.h"
#include "control-plane/handlers/handlers.h"
#include "tunnel/control/control_wire.h"

namespace strait::control::handlers {
namespace {

// The Device of §4.9, with `credential` from the newest credential issued to it (null if none yet).
store::StoreResult<nlohmann::json> DeviceJson(store::ReadTx& tx, const store::TenantScope& scope,
                                              const store::DeviceRecord& d) {
  auto newest = tx.NewestCredentials(scope, store::SubjectRole::kDevice, d.id, 1);
  if (!newest) return Fail(newest.error());
  nlohmann::json credential;  // null
  if (!newest->empty()) {
    credential = {{"serial", std::to_string(newest->front().serial)},
                  {"not_after", TimeJson(newest->front().not_after)}};
  }
  return nlohmann::json{
      {"id", d.id},
      {"user", d.user_id},
      {"name", d.name},
      {"os", store::ToString(d.os)},
      {"os_version", d.os_version},
      {"model", d.model},
      {"state", store::ToString(d.state)},
      {"push",
       {{"service", store::ToString(d.push_service)},
        {"token", d.push_token ? nlohmann::json(*d.push_token) : nlohmann::json()},
        {"updated_at", TimeJson(d.push_updated_at)}}},
      {"credential", std::move(credential)},
      {"keys", {{"signing", BytesJson(d.signing_public)}, {"noise", BytesJson(d.noise_public)}}},
      {"activation", d.activation_id},
      {"activated_at", TimeJson(d.activated_at)},
      {"last_renewed_at", TimeJson(d.last_renewed_at)},
      {"created_at", TimeJson(d.created_at)},
      {"updated_at", TimeJson(d.updated_at)}};
}

// Commits `tx` and answers the device as it now is.
Outcome CommitDevice(Context& ctx, store::WriteTx& tx, const store::DeviceRecord& d) {
  auto body = DeviceJson(tx, *ctx.scope, d);
  if (!body) return StoreProblem(body.error());
  return CommitReply(ctx, tx, Reply{200, std::move(*body), {}});
}

Outcome Answer(store::ReadTx& tx, const store::TenantScope& scope, const store::DeviceRecord& d) {
  auto body = DeviceJson(tx, scope, d);
  if (!body) return StoreProblem(body.error());
  return Reply{200, std::move(*body), {}};
}

// Reads the request's Reason body and the path's device in a write transaction; one of them fails as a problem.
struct Action {
  std::unique_ptr<store::WriteTx> tx;
  store::DeviceRecord device;
  std::string reason;
};
std::variant<Action, Problem> BeginAction(Context& ctx) {
  auto in = DecodeReason(ctx.body);
  if (!in) return in.error();
  auto tx = ctx.services.store->Write();
  if (!tx) return StoreProblem(tx.error());
  auto d = (*tx)->GetDevice(*ctx.scope, ctx.params.Get("device"));
  if (!d) return StoreProblem(d.error());
  if (!*d) return NotFound("no such device");
  return Action{std::move(*tx), std::move(**d), std::move(in->reason)};
}

}  // namespace

Outcome ListDevices(Context& ctx) {
  if (auto bad = RejectUnknownQuery(ctx, {"limit", "cursor", "user", "state", "os"})) return *bad;
  store::DeviceFilter filter;
  FieldErrors errors;
  if (auto v = ctx.query.Get("user")) {
    if (IsValidId(IdKind::kUser, *v)) {
      filter.user_id = std::string(*v);
    } else {
      errors.Add("/user", FieldErrorCode::kBadFormat, "not a valid user id");
    }
  }
  if (auto v = ctx.query.Get("state")) {
    filter.state = store::ParseDeviceState(*v);
    if (!filter.state) errors.Add("/state", FieldErrorCode::kBadFormat, "expected one of active, locked, revoked");
  }
  if (auto v = ctx.query.Get("os")) {
    filter.os = store::ParseDeviceOs(*v);
    if (!filter.os) {
      errors.Add("/os", FieldErrorCode::kBadFormat,
                 "expected one of ios, macos, android, windows10, blackberry10, linux");
    }
  }
  if (!errors.empty()) return errors.ToProblem();
  // The cursor is bound to the tenant and every filter.
  const std::string user = filter.user_id.value_or("");
  const std::string_view state = filter.state ? store::ToString(*filter.state) : "";
  const std::string_view os = filter.os ? store::ToString(*filter.os) : "";
  std::string_view parts[] = {ctx.scope->tenant(), user, state, os};
  auto args = ReadPaging(ctx, CursorList::kDevices, parts);
  if (auto* p = std::get_if<Problem>(&args)) return *p;
  const PageArgs& page = std::get<PageArgs>(args);
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Read());
  STRAIT_STORE_ASSIGN(auto rows, tx->ListDevices(*ctx.scope, filter, page.after_text(), page.limit));
  nlohmann::json items = nlohmann::json::array();
  for (const auto& d : rows.items) {
    STRAIT_STORE_ASSIGN(auto item, DeviceJson(*tx, *ctx.scope, d));
    items.push_back(std::move(item));
  }
  std::vector<uint8_t> last = rows.items.empty() ? std::vector<uint8_t>() : KeyBytes(rows.items.back().id);
  return Reply{200, PageJson(ctx, CursorList::kDevices, page, std::move(items), rows.more, last), {}};
}

Outcome GetDevice(Context& ctx) {
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Read());
  STRAIT_STORE_ASSIGN(auto d, tx->GetDevice(*ctx.scope, ctx.params.Get("device")));
  if (!d) return NotFound("no such device");
  return Answer(*tx, *ctx.scope, *d);
}

Outcome PatchDevice(Context& ctx) {
  auto in = DecodeDevicePatch(ctx.body);
  if (!in) return in.error();
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Write());
  STRAIT_STORE_ASSIGN(auto d, tx->GetDevice(*ctx.scope, ctx.params.Get("device")));
  if (!d) return NotFound("no such device");
  if (!in->name || *in->name == d->name) return Answer(*tx, *ctx.scope, *d);  // nothing to change or audit
  d->name = *in->name;
  d->updated_at = ctx.now;
  STRAIT_STORE_TRY(tx->UpdateDevice(*ctx.scope, *d));
  STRAIT_STORE_TRY(AppendAudit(ctx, *tx, "device.update", "device", d->id, {{"name", d->name}}));
  return CommitDevice(ctx, *tx, *d);
}

Outcome LockDevice(Context& ctx) {
  auto begun = BeginAction(ctx);
  if (auto* p = std::get_if<Problem>(&begun)) return std::move(*p);
  auto& [tx, d, reason] = std::get<Action>(begun);
  switch (d.state) {
    case store::DeviceState::kLocked: return Answer(*tx, *ctx.scope, d);  // locked already: no change, no event
    case store::DeviceState::kRevoked:
      return Conflict(fmt::format("device {} is revoked; a revoked device cannot be locked", d.id), "state");
    case store::DeviceState::kActive: break;
  }
  d.state = store::DeviceState::kLocked;
  d.updated_at = ctx.now;
  STRAIT_STORE_TRY(tx->UpdateDevice(*ctx.scope, d));
  STRAIT_STORE_ASSIGN(int64_t until,
                      DenyDevice(ctx, *tx, d.id, store::DenialReason::kLocked, wire::kEventDeviceLocked, reason));
  STRAIT_STORE_TRY(AppendAudit(ctx, *tx, "device.lock", "device", d.id,
                               {{"reason", reason}, {"until", TimeJson(until)}}));
  return CommitDevice(ctx, *tx, d);
}

Outcome UnlockDevice(Context& ctx) {
  auto begun = BeginAction(ctx);
  if (auto* p = std::get_if<Problem>(&begun)) return std::move(*p);
  auto& [tx, d, reason] = std::get<Action>(begun);
  switch (d.state) {
    case store::DeviceState::kActive: return Answer(*tx, *ctx.scope, d);  // not locked: no change, no event
    case store::DeviceState::kRevoked:
      return Conflict(fmt::format("device {} is revoked; revocation is final", d.id), "state");
    case store::DeviceState::kLocked: break;
  }
  d.state = store::DeviceState::kActive;
  d.updated_at = ctx.now;
  STRAIT_STORE_TRY(tx->UpdateDevice(*ctx.scope, d));
  STRAIT_STORE_TRY(LiftDeviceLock(ctx, *tx, d.id, reason));
  STRAIT_STORE_TRY(AppendAudit(ctx, *tx, "device.unlock", "device", d.id, {{"reason", reason}}));
  return CommitDevice(ctx, *tx, d);
}

Outcome RevokeDevice(Context& ctx) {
  auto begun = BeginAction(ctx);
  if (auto* p = std::get_if<Problem>(&begun)) return std::move(*p);
  auto& [tx, d, reason] = std::get<Action>(begun);
  if (d.state == store::DeviceState::kRevoked) return Answer(*tx, *ctx.scope, d);  // revoked already: no event
  d.state = store::DeviceState::kRevoked;
  d.updated_at = ctx.now;
  STRAIT_STORE_TRY(tx->UpdateDevice(*ctx.scope, d));
  STRAIT_STORE_ASSIGN(int64_t until,
                      DenyDevice(ctx, *tx, d.id, store::DenialReason::kRevoked, wire::kEventDeviceRevoked, reason));
  STRAIT_STORE_TRY(AppendAudit(ctx, *tx, "device.revoke", "device", d.id,
                               {{"reason", reason}, {"until", TimeJson(until)}}));
  return CommitDevice(ctx, *tx, d);
}

Outcome DeleteDevice(Context& ctx) {
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Write());
  STRAIT_STORE_ASSIGN(auto d, tx->GetDevice(*ctx.scope, ctx.params.Get("device")));
  if (!d) return NotFound("no such device");
  // Revoked first if it was not: the denial outlives the row, so its credential stays refused until it expires.
  if (d->state != store::DeviceState::kRevoked) {
    STRAIT_STORE_TRY(
        DenyDevice(ctx, *tx, d->id, store::DenialReason::kDeleted, wire::kEventDeviceRevoked, "device deleted"));
  }
  STRAIT_STORE_TRY(tx->DeleteDevice(*ctx.scope, d->id));
  STRAIT_STORE_TRY(AppendAudit(ctx, *tx, "device.delete", "device", d->id,
                               {{"user", d->user_id}, {"state", store::ToString(d->state)}}));
  return CommitReply(ctx, *tx, Reply{204, nullptr, {}});
}

Outcome PutPushToken(Context& ctx) {
  auto in = DecodePushToken(ctx.body);
  if (!in) return in.error();
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Write());
  STRAIT_STORE_ASSIGN(auto d, tx->GetDevice(*ctx.scope, ctx.params.Get("device")));
  if (!d) return NotFound("no such device");
  const store::PushService service = store::PushServiceFor(d->os);
  if (in->token && service == store::PushService::kNone) {
    return InvalidRequest({FieldError{"/token", FieldErrorCode::kOutOfRange,
                                      fmt::format("a {} device has no push service: only null clears its token",
                                                  store::ToString(d->os))}},
                          1);
  }
  d->push_service = service;
  d->push_token = std::move(in->token);
  d->push_updated_at = ctx.now;
  d->updated_at = ctx.now;
  STRAIT_STORE_TRY(tx->UpdateDevice(*ctx.scope, *d));
  // Never the token itself (§4.6): "set", or null when cleared.
  STRAIT_STORE_TRY(AppendAudit(ctx, *tx, "device.push_token", "device", d->id,
                               {{"service", store::ToString(service)},
                                {"token", d->push_token ? nlohmann::json("set") : nlohmann::json()}}));
  return CommitDevice(ctx, *tx, *d);
}

}  // namespace strait::control::handlers
