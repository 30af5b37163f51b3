// Tenants and their licences (docs/control-plane.md §4.8 "Public and operator", §4.9 Tenant, Licence).
#include <fmt/format.h>

#include "control-plane/api/dto.h"
#include "control-plane/handlers/common.h"
#include "control-plane/handlers/handlers.h"
#include "crypto/credential.h"

namespace strait::control::handlers {
namespace {

// A TenantCert starts an hour early, as `strait keys tenant` makes it (docs/keys.md "Validity"): a peer whose clock
// is behind still accepts it.
constexpr int64_t kClockSkewSeconds = 3600;

nlohmann::json TenantJson(const store::TenantRecord& t) {
  return {{"id", t.id},
          {"display_name", t.display_name},
          {"state", store::ToString(t.state)},
          {"tenant_key", BytesJson(t.signing_public)},
          {"tenant_cert_not_after", TimeJson(t.tenant_cert_not_after)},
          {"created_at", TimeJson(t.created_at)},
          {"updated_at", TimeJson(t.updated_at)}};
}

nlohmann::json LicenceJson(const store::LicenceRecord& l, int64_t used) {
  return {{"seats", l.seats}, {"expires_at", TimeJson(l.expires_at)}, {"used", used}};
}

store::EventRecord TenantEvent(const Context& ctx, std::string_view type, std::string_view tenant) {
  store::EventRecord e;
  e.at = ctx.now;
  e.tenant = std::string(tenant);
  e.type = std::string(type);
  e.body = nlohmann::json{{"type", type}, {"tenant", tenant}}.dump();
  return e;
}

}  // namespace

Outcome CreateTenant(Context& ctx) {
  auto in = DecodeTenantCreate(ctx.body);
  if (!in) return in.error();
  const TenantCreate& t = *in;
  const crypto::Ed25519KeyPair key = crypto::Ed25519KeyPair::Generate();
  const auto not_before = static_cast<uint64_t>(ctx.now - kClockSkewSeconds);
  const auto not_after = static_cast<uint64_t>(ctx.now + int64_t{ctx.services.config.tenant_cert_days} * 86400);
  auto cert = crypto::IssueTenantCert(*ctx.services.root, {t.id, key.public_key, not_before, not_after});
  if (!cert) {
    return MakeProblem(ProblemType::kInternal, fmt::format("TenantCert not issued: {}", cert.error().reason));
  }
  store::TenantRecord rec;
  rec.id = t.id;
  rec.display_name = t.display_name;
  rec.signing_key_sealed = ctx.services.sealer->Seal(store::SealContext::kTenantKey, t.id, key.seed.bytes());
  rec.signing_public.assign(key.public_key.bytes().begin(), key.public_key.bytes().end());
  rec.tenant_cert = std::move(*cert);
  rec.tenant_cert_not_after = static_cast<int64_t>(not_after);
  rec.created_at = rec.updated_at = ctx.now;
  store::LicenceRecord licence;
  licence.seats = t.seats;
  if (t.licence_expires_at) licence.expires_at = t.licence_expires_at->time_since_epoch().count();
  licence.created_at = licence.updated_at = ctx.now;

  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Write());
  STRAIT_STORE_TRY(tx->InsertTenant(rec));
  const store::TenantScope scope(t.id);
  STRAIT_STORE_TRY(tx->PutLicence(scope, licence));
  ctx.scope = scope;  // the audit record belongs to the new tenant
  STRAIT_STORE_TRY(AppendAudit(ctx, *tx, "tenant.create", "tenant", t.id,
                               {{"display_name", t.display_name}, {"seats", t.seats}}));
  Reply r{201, TenantJson(rec), {{"Location", "/v1/tenants/" + t.id}}};
  return CommitReply(ctx, *tx, std::move(r));
}

Outcome ListTenants(Context& ctx) {
  if (auto bad = RejectUnknownQuery(ctx, {"limit", "cursor"})) return *bad;
  std::string_view parts[] = {""};
  auto args = ReadPaging(ctx, CursorList::kTenants, parts);
  if (auto* p = std::get_if<Problem>(&args)) return *p;
  const PageArgs& page = std::get<PageArgs>(args);
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Read());
  STRAIT_STORE_ASSIGN(auto rows, tx->ListTenants(page.after_text(), page.limit));
  nlohmann::json items = nlohmann::json::array();
  for (const auto& t : rows.items) items.push_back(TenantJson(t));
  std::vector<uint8_t> last = rows.items.empty() ? std::vector<uint8_t>() : KeyBytes(rows.items.back().id);
  return Reply{200, PageJson(ctx, CursorList::kTenants, page, std::move(items), rows.more, last), {}};
}

Outcome GetTenant(Context& ctx) {
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Read());
  STRAIT_STORE_ASSIGN(auto t, tx->GetTenant(*ctx.scope));
  if (!t) return NotFound("no such tenant");
  return Reply{200, TenantJson(*t), {}};
}

Outcome PatchTenant(Context& ctx) {
  FieldErrors errors;
  ObjectReader r(ctx.body, "", &errors);
  auto name = r.Text("display_name", Need::kOptional);
  static constexpr EnumName<store::TenantState> kStates[] = {{"active", store::TenantState::kActive},
                                                             {"suspended", store::TenantState::kSuspended}};
  auto state = r.Enum<store::TenantState>("state", Need::kOptional, kStates);
  r.Finish();
  if (!errors.empty()) return errors.ToProblem();

  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Write());
  STRAIT_STORE_ASSIGN(auto t, tx->GetTenant(*ctx.scope));
  if (!t) return NotFound("no such tenant");
  nlohmann::json changed = nlohmann::json::object();
  if (name && *name != t->display_name) {
    t->display_name = *name;
    changed["display_name"] = *name;
  }
  if (state && *state != t->state) {
    t->state = *state;
    changed["state"] = store::ToString(*state);
    const char* type = *state == store::TenantState::kSuspended ? "tenant.suspended" : "tenant.resumed";
    STRAIT_STORE_TRY(tx->AppendEvent(TenantEvent(ctx, type, t->id)));
  }
  if (changed.empty()) return Reply{200, TenantJson(*t), {}};  // nothing to change, nothing to audit
  t->updated_at = ctx.now;
  STRAIT_STORE_TRY(tx->UpdateTenant(*ctx.scope, *t));
  STRAIT_STORE_TRY(AppendAudit(ctx, *tx, "tenant.update", "tenant", t->id, changed));
  return CommitReply(ctx, *tx, Reply{200, TenantJson(*t), {}});
}

Outcome DeleteTenant(Context& ctx) {
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Write());
  STRAIT_STORE_ASSIGN(auto t, tx->GetTenant(*ctx.scope));
  if (!t) return NotFound("no such tenant");
  if (t->state != store::TenantState::kSuspended) {
    return Conflict(fmt::format("tenant {} is active: suspend it first (PATCH state=suspended)", t->id), "state");
  }
  STRAIT_STORE_TRY(tx->DeleteTenant(*ctx.scope));
  STRAIT_STORE_TRY(tx->AppendEvent(TenantEvent(ctx, "tenant.deleted", t->id)));
  ctx.scope.reset();  // the tenant's own audit rows go with it; this record is the operator's
  STRAIT_STORE_TRY(AppendAudit(ctx, *tx, "tenant.delete", "tenant", t->id));
  return CommitReply(ctx, *tx, Reply{204, nullptr, {}});
}

Outcome GetLicence(Context& ctx) {
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Read());
  STRAIT_STORE_ASSIGN(auto l, tx->GetLicence(*ctx.scope));
  STRAIT_STORE_ASSIGN(int64_t used, tx->CountSeatsUsed(*ctx.scope));
  return Reply{200, LicenceJson(l.value_or(store::LicenceRecord{}), used), {}};
}

Outcome PutLicence(Context& ctx) {
  FieldErrors errors;
  ObjectReader r(ctx.body, "", &errors);
  auto seats = r.Int("seats", Need::kRequired, 0, kMaxSeats);
  const bool no_expiry = r.TakeNull("expires_at");
  std::optional<Seconds> expires = no_expiry ? std::nullopt : r.Time("expires_at", Need::kRequired);
  r.Finish();
  if (!errors.empty()) return errors.ToProblem();

  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Write());
  STRAIT_STORE_ASSIGN(auto l, tx->GetLicence(*ctx.scope));
  store::LicenceRecord rec = l.value_or(store::LicenceRecord{});
  if (!l) rec.created_at = ctx.now;
  rec.seats = *seats;
  rec.expires_at = expires ? std::optional<int64_t>(expires->time_since_epoch().count()) : std::nullopt;
  rec.updated_at = ctx.now;
  STRAIT_STORE_TRY(tx->PutLicence(*ctx.scope, rec));
  STRAIT_STORE_ASSIGN(int64_t used, tx->CountSeatsUsed(*ctx.scope));
  STRAIT_STORE_TRY(AppendAudit(ctx, *tx, "licence.update", "licence", ctx.scope->tenant(),
                               {{"seats", rec.seats}, {"expires_at", TimeJson(rec.expires_at)}}));
  return CommitReply(ctx, *tx, Reply{200, LicenceJson(rec, used), {}});
}

}  // namespace strait::control::handlers
