// Renewal (docs/control-plane.md §6.5): POST .../devices/{d}/renew, .../connectors/{c}/renew, /v1/relays/{r}/renew.
// The dispatcher has authenticated the caller as the path's subject (kWhoSelf) with its current credential and
// proof, or an expired one within renew_grace_hours that is one of the two newest issued to it (kWhoGrace,
// machine_auth.cc). Here, in one write transaction: the subject and its tenant again (a lock or revoke may have
// committed since the dispatcher's read), a new credential for the SAME keys (new keys mean a new activation), the
// subject's row (a device's os_version and last_renewed_at; a relay's TLS leaf expiry), the audit record, and the
// Bundle exactly as the activation answers it (issuer.h: relays, connector set, CA, policy, renew_after).
//
// Answers: 200 Bundle; 403 device-locked (the daemon keeps trying: an unlock lets it back) / device-revoked /
// connector-revoked / relay-revoked / tenant-suspended; 400 invalid-request for a body other than {} (a device's
// may carry os_version). No licence check: an expired licence refuses new activations only (§ Open questions).
#include <fmt/format.h>

#include "control-plane/api/dto_renew.h"
#include "control-plane/handlers/common.h"
#include "control-plane/handlers/handlers.h"
#include "control-plane/handlers/issuer.h"

namespace strait::control::handlers {
namespace {

// The tenant of a device or connector renewal, active; or the problem.
std::variant<store::TenantRecord, Problem> ActiveTenant(const Context& ctx, store::WriteTx& tx) {
  STRAIT_STORE_ASSIGN(auto tenant, tx.GetTenant(*ctx.scope));
  if (!tenant) return NotFound("no such tenant");
  if (tenant->state == store::TenantState::kSuspended) {
    return MakeProblem(ProblemType::kTenantSuspended, fmt::format("tenant {} is suspended", tenant->id));
  }
  return std::move(*tenant);
}

// Audit, Bundle, commit: the tail every renewal shares.
Outcome Finish(Context& ctx, store::WriteTx& tx, store::SubjectRole role, std::string_view subject,
               const Issued& issued) {
  const std::string action = fmt::format("{}.renew", store::ToString(role));
  STRAIT_STORE_TRY(AppendAudit(ctx, tx, action, store::ToString(role), subject,
                               {{"serial", std::to_string(issued.serial)}, {"not_after", TimeJson(issued.not_after)}}));
  const std::string tenant = ctx.scope ? ctx.scope->tenant() : std::string();
  auto bundle = BundleJson(ctx, tx, role, tenant, subject, issued);
  if (!bundle) return bundle.error();
  return CommitReply(ctx, tx, Reply{200, std::move(*bundle), {}});
}

}  // namespace

Outcome RenewDevice(Context& ctx) {
  auto in = DecodeRenew(ctx.body, EnrolKind::kDevice);
  if (!in) return in.error();
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Write());
  auto tenant = ActiveTenant(ctx, *tx);
  if (auto* p = std::get_if<Problem>(&tenant)) return std::move(*p);
  STRAIT_STORE_ASSIGN(auto d, tx->GetDevice(*ctx.scope, ctx.params.Get("device")));
  if (!d) return NotFound("no such device");
  if (d->state == store::DeviceState::kRevoked) {
    return MakeProblem(ProblemType::kDeviceRevoked, fmt::format("device {} is revoked", d->id));
  }
  if (d->state == store::DeviceState::kLocked) {
    return MakeProblem(ProblemType::kDeviceLocked, fmt::format("device {} is locked", d->id));
  }
  auto issued = IssueTenantSubject(ctx, *tx, std::get<store::TenantRecord>(tenant), store::SubjectRole::kDevice,
                                   d->id, d->signing_public, d->noise_public);
  if (!issued) return issued.error();
  if (in->os_version) d->os_version = *in->os_version;
  d->last_renewed_at = ctx.now;
  d->updated_at = ctx.now;
  STRAIT_STORE_TRY(tx->UpdateDevice(*ctx.scope, *d));
  return Finish(ctx, *tx, store::SubjectRole::kDevice, d->id, *issued);
}

Outcome RenewConnector(Context& ctx) {
  auto in = DecodeRenew(ctx.body, EnrolKind::kConnector);
  if (!in) return in.error();
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Write());
  auto tenant = ActiveTenant(ctx, *tx);
  if (auto* p = std::get_if<Problem>(&tenant)) return std::move(*p);
  STRAIT_STORE_ASSIGN(auto c, tx->GetConnector(*ctx.scope, ctx.params.Get("connector")));
  if (!c) return NotFound("no such connector");
  if (c->state == store::EnrolState::kRevoked) {
    return MakeProblem(ProblemType::kConnectorRevoked, fmt::format("connector {} is revoked", c->id));
  }
  if (c->state != store::EnrolState::kActive || !c->signing_public || !c->noise_public) {
    return Conflict(fmt::format("connector {} is not enrolled", c->id), "state");
  }
  auto issued = IssueTenantSubject(ctx, *tx, std::get<store::TenantRecord>(tenant), store::SubjectRole::kConnector,
                                   c->id, *c->signing_public, *c->noise_public);
  if (!issued) return issued.error();
  return Finish(ctx, *tx, store::SubjectRole::kConnector, c->id, *issued);
}

Outcome RenewRelay(Context& ctx) {
  auto in = DecodeRenew(ctx.body, EnrolKind::kRelay);
  if (!in) return in.error();
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Write());
  STRAIT_STORE_ASSIGN(auto r, tx->GetRelay(ctx.params.Get("relay")));
  if (!r) return NotFound("no such relay");
  if (r->state == store::EnrolState::kRevoked) {
    return MakeProblem(ProblemType::kRelayRevoked, fmt::format("relay {} is revoked", r->id));
  }
  if (r->state != store::EnrolState::kActive || !r->signing_public || !r->tls_spki) {
    return Conflict(fmt::format("relay {} is not enrolled", r->id), "state");
  }
  // A new TLS leaf for the same P-256 key, with the relay's names as they are now (a PATCH applies here).
  auto issued = IssueRelay(ctx, *tx, *r, *r->signing_public, *r->tls_spki);
  if (!issued) return issued.error();
  r->tls_cert_not_after = issued->tls_not_after;
  r->updated_at = ctx.now;
  STRAIT_STORE_TRY(tx->UpdateRelay(*r));
  return Finish(ctx, *tx, store::SubjectRole::kRelay, r->id, *issued);
}

}  // namespace strait::control::handlers
