// Snapshots and event streams for relays and connectors (docs/control-plane.md §7.2): a snapshot is the state as of
// an event id, built in one read transaction; the stream follows from there (events/hub.h).
#include <fmt/format.h>

#include "control-plane/events/hub.h"
#include "control-plane/handlers/common.h"
#include "control-plane/handlers/effective_devices.h"
#include "control-plane/handlers/handlers.h"
#include "tunnel/control/control_wire.h"

namespace strait::control::handlers {
namespace {

namespace w = wire;
constexpr size_t kPage = 500;

nlohmann::json DenialJson(const store::DenialRecord& d) {
  return {{w::kDenialTenantField, d.tenant},
          {w::kDenialRoleField, store::ToString(d.role)},
          {w::kDenialSubjectField, d.subject},
          {w::kDenialReasonField, store::ToString(d.reason)},
          {w::kDenialUntilField, w::FormatTime(static_cast<uint64_t>(d.until))}};
}

// Every tenant or machine denial still in force (relays' own denials are in revoked_relays).
template <class ListFn>
std::variant<nlohmann::json, Problem> Denials(int64_t now, ListFn list) {
  nlohmann::json out = nlohmann::json::array();
  std::optional<store::DenialKey> after;
  while (true) {
    auto page = list(after);
    if (!page) return StoreProblem(page.error());
    for (const auto& d : page->items) {
      if (d.role != store::SubjectRole::kRelay && d.until >= now) out.push_back(DenialJson(d));
    }
    if (!page->more || page->items.empty()) break;
    const auto& last = page->items.back();
    after = store::DenialKey{last.tenant, last.role, last.subject};
  }
  return out;
}

std::variant<nlohmann::json, Problem> RevokedRelays(store::ReadTx& tx) {
  nlohmann::json out = nlohmann::json::array();
  std::string after;
  while (true) {
    auto page = tx.ListRelays(after, kPage);
    if (!page) return StoreProblem(page.error());
    for (const auto& r : page->items) {
      if (r.state == store::EnrolState::kRevoked) out.push_back(r.id);
    }
    if (!page->more || page->items.empty()) break;
    after = page->items.back().id;
  }
  return out;
}

// `?after=<event id>` (required): 400 if missing or bad or beyond the newest event; 410 events-expired if older than
// the retained events (the client takes a snapshot again).
std::variant<store::EventId, Problem> ReadAfter(const Context& ctx) {
  if (auto bad = RejectUnknownQuery(ctx, {"after"})) return *bad;
  auto text = ctx.query.Get("after");
  auto id = text ? w::ParseEventId(*text) : std::nullopt;
  if (!id) {
    return InvalidRequest({FieldError{"/after", text ? FieldErrorCode::kBadFormat : FieldErrorCode::kMissingField,
                                      "after=<event id> from a snapshot's as_of or the last event seen"}},
                          1);
  }
  const auto after = static_cast<store::EventId>(*id);
  if (after > ctx.services.store->LastEventId()) {
    return InvalidRequest({FieldError{"/after", FieldErrorCode::kOutOfRange, "after is beyond the newest event"}}, 1);
  }
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Read());
  STRAIT_STORE_ASSIGN(auto oldest, tx->OldestEventId());
  const store::EventId first_kept = oldest.value_or(ctx.services.store->LastEventId() + 1);
  if (after < first_kept - 1) {
    Problem p = MakeProblem(ProblemType::kEventsExpired,
                            "the events after this id are no longer kept: take a snapshot and follow from its as_of");
    p.extensions["oldest"] = std::to_string(first_kept);
    return p;
  }
  return after;
}

Outcome OpenStream(Context& ctx, const std::string& subject, events::Filter filter) {
  auto after = ReadAfter(ctx);
  if (auto* p = std::get_if<Problem>(&after)) return *p;
  auto stream = ctx.services.hub->Open(subject, std::move(filter), std::get<store::EventId>(after));
  if (!stream) return MakeProblem(ProblemType::kTooManySubscribers, "the event stream bound is reached; retry");
  Reply r;
  r.stream = std::move(stream);
  return r;
}

}  // namespace

Outcome GetRelaySnapshot(Context& ctx) {
  if (auto bad = RejectUnknownQuery(ctx, {})) return *bad;
  const store::EventId as_of = ctx.services.store->LastEventId();  // before the snapshot: never past what it sees
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Read());
  STRAIT_STORE_ASSIGN(auto relay, tx->GetRelay(ctx.params.Get("relay")));
  if (!relay) return NotFound("no such relay");
  auto denied = Denials(ctx.now, [&](const std::optional<store::DenialKey>& after) { return tx->ListDenials(after, kPage); });
  if (auto* p = std::get_if<Problem>(&denied)) return *p;
  nlohmann::json suspended = nlohmann::json::array();
  std::string after;
  while (true) {
    STRAIT_STORE_ASSIGN(auto page, tx->ListTenants(after, kPage));
    for (const auto& t : page.items) {
      if (t.state == store::TenantState::kSuspended) suspended.push_back(t.id);
    }
    if (!page.more || page.items.empty()) break;
    after = page.items.back().id;
  }
  auto revoked = RevokedRelays(*tx);
  if (auto* p = std::get_if<Problem>(&revoked)) return *p;
  return Reply{200,
               {{w::kSnapshotAsOfField, std::to_string(as_of)},
                {w::kSnapshotDeniedField, std::move(std::get<nlohmann::json>(denied))},
                {w::kSnapshotSuspendedTenantsField, std::move(suspended)},
                {w::kSnapshotRevokedRelaysField, std::move(std::get<nlohmann::json>(revoked))}},
               {}};
}

Outcome GetRelayEvents(Context& ctx) {
  {
    STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Read());
    STRAIT_STORE_ASSIGN(auto relay, tx->GetRelay(ctx.params.Get("relay")));
    if (!relay) return NotFound("no such relay");
  }
  return OpenStream(ctx, "relay/" + std::string(ctx.params.Get("relay")), {events::Filter::Kind::kRelay, {}});
}

Outcome GetConnectorSnapshot(Context& ctx) {
  if (auto bad = RejectUnknownQuery(ctx, {})) return *bad;
  const store::EventId as_of = ctx.services.store->LastEventId();
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Read());
  STRAIT_STORE_ASSIGN(auto conn, tx->GetConnector(*ctx.scope, ctx.params.Get("connector")));
  if (!conn) return NotFound("no such connector");
  STRAIT_STORE_ASSIGN(auto tenant, tx->GetTenant(*ctx.scope));
  if (!tenant) return NotFound("no such tenant");
  nlohmann::json policies = nlohmann::json::array();
  std::string after;
  while (true) {
    STRAIT_STORE_ASSIGN(auto page, tx->ListPolicies(*ctx.scope, after, kPage));
    for (const auto& p : page.items) {
      policies.push_back({{w::kSnapshotPolicyIdField, p.id},
                          {w::kSnapshotPolicyVersionField, p.version},
                          {w::kSnapshotPolicyDefaultField, p.is_default},
                          {w::kSnapshotPolicyTomlField, p.toml}});
    }
    if (!page.more || page.items.empty()) break;
    after = page.items.back().id;
  }
  // Devices not on the default (§7.2), in the same read transaction as the policies they name.
  nlohmann::json device_policies = nlohmann::json::array();
  STRAIT_STORE_ASSIGN(auto own, DevicesWithOwnPolicy(*tx, *ctx.scope));
  for (const auto& [device, policy] : own) {
    device_policies.push_back({{w::kSnapshotDeviceField, device}, {w::kSnapshotDevicePolicyField, policy}});
  }
  auto denied = Denials(ctx.now, [&](const std::optional<store::DenialKey>& a) {
    return tx->ListTenantDenials(*ctx.scope, a, kPage);
  });
  if (auto* p = std::get_if<Problem>(&denied)) return *p;
  auto revoked = RevokedRelays(*tx);
  if (auto* p = std::get_if<Problem>(&revoked)) return *p;
  return Reply{200,
               {{w::kSnapshotAsOfField, std::to_string(as_of)},
                {w::kSnapshotTenantStateField,
                 tenant->state == store::TenantState::kSuspended ? w::kTenantStateSuspended : w::kTenantStateActive},
                {w::kSnapshotPoliciesField, std::move(policies)},
                {w::kSnapshotDevicePoliciesField, std::move(device_policies)},
                {w::kSnapshotDeniedField, std::move(std::get<nlohmann::json>(denied))},
                {w::kSnapshotRevokedRelaysField, std::move(std::get<nlohmann::json>(revoked))}},
               {}};
}

Outcome GetConnectorEvents(Context& ctx) {
  {
    STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Read());
    STRAIT_STORE_ASSIGN(auto conn, tx->GetConnector(*ctx.scope, ctx.params.Get("connector")));
    if (!conn) return NotFound("no such connector");
  }
  return OpenStream(ctx, fmt::format("connector/{}/{}", ctx.scope->tenant(), ctx.params.Get("connector")),
                    {events::Filter::Kind::kConnector, ctx.scope->tenant()});
}

}  // namespace strait::control::handlers
