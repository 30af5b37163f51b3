// Renewal (docs/control-plane.md §6.5): POST .../devices/{d}/renew, .../connectors/{c}/renew, /v1/relays/{r}/renew.
// The dispatcher has authenticated the caller as the path's subject (kWhoSelf) with its current credential and
// proof, or an expired one within renew_grace_hours that was one of the two newest issued to it on its read snapshot
// (kWhoGrace, machine_auth.cc). Here, in one write transaction, which is the authority for all of it:
//   1. the two-newest rule again (two renewals that raced past the dispatcher's read with the second newest cannot
//      both succeed: the first makes it the third newest);
//   2. the subject and its tenant again (a lock or revoke may have committed since the dispatcher's read);
//   3. the rate bound: a subject gets at most two credentials within min_renew_interval_s, by the issue time of the
//      second newest. So a renewal right after activation works, and so does a retry after a lost answer (the
//      second newest is then the credential the retry presents, issued a renewal period ago); renewing back to back
//      is 429 renew-too-soon with Retry-After. Each renewal costs a signature and an fsync; this bounds both;
//   4. a new credential for the SAME keys (new keys mean a new activation): its row, and the store drops the
//      subject's rows beyond the newest two (store.h kCredentialsPerSubject), so the table cannot grow however
//      often a subject renews; the subject's row (a device's os_version and last_renewed_at; a relay's TLS leaf
//      expiry), the audit record, and the Bundle exactly as the activation answers it (issuer.h: relays, connector
//      set, CA, policy, renew_after).
//
// Answers: 200 Bundle; 401 unauthenticated reason superseded; 403 device-locked (the daemon keeps trying: an unlock
// lets it back) / device-revoked / connector-revoked / relay-revoked / tenant-suspended; 429 renew-too-soon (the
// renewer retries: tunnel/control/renew.cc kRefused); 400 invalid-request for a body other than {} (a device's may
// carry os_version). No licence check: an expired licence refuses new activations only (§ Open questions).
#include <fmt/format.h>

#include "control-plane/api/dto_renew.h"
#include "control-plane/handlers/common.h"
#include "control-plane/handlers/handlers.h"
#include "control-plane/handlers/issuer.h"
#include "control-plane/handlers/machine_auth.h"

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

// The subject's newest credentials, read in the write transaction: what steps 1 and 3 decide on.
using Newest = std::vector<store::CredentialRecord>;

// Step 3: nullopt, or 429 renew-too-soon with the seconds until the second newest is min_renew_interval_s old (the
// dispatcher moves them to Retry-After).
std::optional<Problem> TooSoon(const Context& ctx, const Newest& newest) {
  const int64_t interval = ctx.services.config.min_renew_interval_s;
  if (interval <= 0 || newest.size() < 2) return std::nullopt;
  const int64_t allowed_at = newest[1].issued_at + interval;
  if (ctx.now >= allowed_at) return std::nullopt;
  Problem p = MakeProblem(ProblemType::kRenewTooSoon,
                          fmt::format("{} {} was issued two credentials in the last {} s; renew in {} s",
                                      PrincipalKindName(ctx.principal.kind), ctx.principal.id, interval,
                                      allowed_at - ctx.now));
  p.extensions["retry_after"] = allowed_at - ctx.now;
  return p;
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
  STRAIT_STORE_ASSIGN(auto newest, NewestCredentialsOf(*tx, ctx.principal, kGraceNewest));
  if (auto superseded = SupersededProblem(ctx.principal, newest)) return std::move(*superseded);
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
  if (auto soon = TooSoon(ctx, newest)) return std::move(*soon);
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
  STRAIT_STORE_ASSIGN(auto newest, NewestCredentialsOf(*tx, ctx.principal, kGraceNewest));
  if (auto superseded = SupersededProblem(ctx.principal, newest)) return std::move(*superseded);
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
  if (auto soon = TooSoon(ctx, newest)) return std::move(*soon);
  auto issued = IssueTenantSubject(ctx, *tx, std::get<store::TenantRecord>(tenant), store::SubjectRole::kConnector,
                                   c->id, *c->signing_public, *c->noise_public);
  if (!issued) return issued.error();
  return Finish(ctx, *tx, store::SubjectRole::kConnector, c->id, *issued);
}

Outcome RenewRelay(Context& ctx) {
  auto in = DecodeRenew(ctx.body, EnrolKind::kRelay);
  if (!in) return in.error();
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Write());
  STRAIT_STORE_ASSIGN(auto newest, NewestCredentialsOf(*tx, ctx.principal, kGraceNewest));
  if (auto superseded = SupersededProblem(ctx.principal, newest)) return std::move(*superseded);
  STRAIT_STORE_ASSIGN(auto r, tx->GetRelay(ctx.params.Get("relay")));
  if (!r) return NotFound("no such relay");
  if (r->state == store::EnrolState::kRevoked) {
    return MakeProblem(ProblemType::kRelayRevoked, fmt::format("relay {} is revoked", r->id));
  }
  if (r->state != store::EnrolState::kActive || !r->signing_public || !r->tls_spki) {
    return Conflict(fmt::format("relay {} is not enrolled", r->id), "state");
  }
  if (auto soon = TooSoon(ctx, newest)) return std::move(*soon);
  // A new TLS leaf for the same P-256 key, with the relay's names as they are now (a PATCH applies here).
  auto issued = IssueRelay(ctx, *tx, *r, *r->signing_public, *r->tls_spki);
  if (!issued) return issued.error();
  r->tls_cert_not_after = issued->tls_not_after;
  r->updated_at = ctx.now;
  STRAIT_STORE_TRY(tx->UpdateRelay(*r));
  return Finish(ctx, *tx, store::SubjectRole::kRelay, r->id, *issued);
}

}  // namespace strait::control::handlers
