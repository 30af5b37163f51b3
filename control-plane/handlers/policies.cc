// Policies, their assignments and a device's effective policy (docs/control-plane.md §4.7, §4.8, §4.9, §7.3).
//
// Every change appends its events in its own write transaction: policy.updated (the canonical TOML connectors
// load) or policy.deleted, then device.policy for each device whose effective policy the change moved, or one
// resync when that is more than kMaxDevicePolicyEvents devices. Which devices moved is worked out by computing
// the effective policy (api/effective_policy) of every user the change may touch, before and after it, in the
// same transaction.
#include <map>
#include <set>

#include <fmt/format.h>

#include "control-plane/api/dto_policy.h"
#include "control-plane/api/effective_policy.h"
#include "control-plane/api/ids.h"
#include "control-plane/api/policy_doc.h"
#include "control-plane/handlers/common.h"
#include "control-plane/handlers/effective_devices.h"
#include "control-plane/handlers/handlers.h"
#include "tunnel/control/control_wire.h"

namespace strait::control::handlers {
namespace {

namespace wire = strait::control::wire;
using json = nlohmann::json;

// Beyond this many devices, one change appends one resync instead of a device.policy each (§7.3), so a
// transaction's events stay bounded.
constexpr size_t kMaxDevicePolicyEvents = 1'000;

template <class T>
using StoreResult = store::StoreResult<T>;

json PolicySummaryJson(const store::PolicyRecord& p) {
  return {{"id", p.id},
          {"name", p.name},
          {"default", p.is_default},
          {"version", p.version},
          {"created_at", TimeJson(p.created_at)},
          {"updated_at", TimeJson(p.updated_at)}};
}

// The stored document is {app, tunnel?} (policy_doc's EncodePolicyRules); name and default are columns.
json PolicyJson(const store::PolicyRecord& p) {
  json out = json::parse(p.doc_json, nullptr, false);
  if (!out.is_object()) out = json::object();
  json summary = PolicySummaryJson(p);  // named: a temporary would die before the loop reads it
  for (auto& [k, v] : summary.items()) out[k] = std::move(v);
  out["toml"] = p.toml;
  return out;
}

std::string ETag(int64_t version) { return fmt::format("\"{}\"", version); }

store::TargetKind StoreTarget(AssignmentTarget t) {
  return t == AssignmentTarget::kUser ? store::TargetKind::kUser : store::TargetKind::kGroup;
}

json AssignmentJson(const store::PolicyAssignmentRecord& a) {
  return {{"id", a.id},
          {"policy", a.policy_id},
          {"target", {{"kind", store::ToString(a.target_kind)}, {"id", a.target_id}}},
          {"priority", a.priority},
          {"created_at", TimeJson(a.created_at)},
          {"updated_at", TimeJson(a.updated_at)}};
}

store::EventRecord TenantEvent(const Context& ctx, std::string_view type, json fields) {
  store::EventRecord e;
  e.at = ctx.now;
  e.tenant = ctx.scope->tenant();
  e.type = std::string(type);
  json body = {{wire::kEventTypeField, type}, {wire::kEventTenantField, ctx.scope->tenant()}};
  for (auto& [k, v] : fields.items()) body[k] = std::move(v);
  e.body = body.dump();
  return e;
}

store::EventRecord PolicyUpdatedEvent(const Context& ctx, const store::PolicyRecord& p) {
  return TenantEvent(ctx, wire::kEventPolicyUpdated,
                     {{wire::kEventPolicyField, p.id},
                      {wire::kEventVersionField, p.version},
                      {wire::kEventDefaultField, p.is_default},
                      {wire::kEventTomlField, p.toml}});
}

// ---- who moved: effective policies before and after a change ----

// The users a change may touch: a set, or every user of the tenant.
struct Touched {
  bool all = false;
  std::set<std::string> users;
};

StoreResult<std::vector<std::string>> AllUsers(store::ReadTx& tx, const store::TenantScope& scope) {
  std::vector<std::string> out;
  std::string after;
  for (;;) {
    auto page = tx.ListUsers(scope, after, store::kMaxPageLimit);
    if (!page) return Fail(page.error());
    for (const auto& u : page->items) out.push_back(u.id);
    if (!page->more || page->items.empty()) return out;
    after = page->items.back().id;
  }
}

StoreResult<void> AddGroupMembers(store::ReadTx& tx, const store::TenantScope& scope, std::string_view group,
                                  std::set<std::string>& users) {
  std::string after;
  for (;;) {
    auto page = tx.ListGroupMembers(scope, group, after, store::kMaxPageLimit);
    if (!page) return Fail(page.error());
    for (const auto& m : page->items) users.insert(m.user_id);
    if (!page->more || page->items.empty()) return {};
    after = page->items.back().user_id;
  }
}

// The users an assignment reaches.
StoreResult<void> AddAssignmentUsers(store::ReadTx& tx, const store::TenantScope& scope,
                                     const store::PolicyAssignmentRecord& a, std::set<std::string>& users) {
  if (a.target_kind == store::TargetKind::kUser) {
    users.insert(a.target_id);
    return {};
  }
  return AddGroupMembers(tx, scope, a.target_id, users);
}

StoreResult<EffectivePolicy> EffectiveFor(store::ReadTx& tx, const store::TenantScope& scope, std::string_view user,
                                          const std::optional<std::string>& default_policy) {
  auto assignments = tx.ListAssignmentsForUser(scope, user);
  if (!assignments) return Fail(assignments.error());
  auto groups = tx.ListUserGroups(scope, user);
  if (!groups) return Fail(groups.error());
  std::vector<AssignmentView> views;
  views.reserve(assignments->size());
  for (const auto& a : *assignments) {
    views.push_back({a.id, a.policy_id,
                     a.target_kind == store::TargetKind::kUser ? AssignmentTarget::kUser : AssignmentTarget::kGroup,
                     a.target_id, a.priority});
  }
  std::optional<std::string_view> def;
  if (default_policy) def = *default_policy;
  return ComputeEffectivePolicy(user, *groups, views, def);
}

StoreResult<std::optional<std::string>> DefaultPolicyId(store::ReadTx& tx, const store::TenantScope& scope) {
  auto def = tx.GetDefaultPolicy(scope);
  if (!def) return Fail(def.error());
  if (!*def) return std::optional<std::string>();
  return std::optional<std::string>((*def)->id);
}

using Effective = std::map<std::string, EffectivePolicy>;  // user -> its effective policy

StoreResult<Effective> Snapshot(store::ReadTx& tx, const store::TenantScope& scope, const Touched& touched) {
  auto def = DefaultPolicyId(tx, scope);
  if (!def) return Fail(def.error());
  std::vector<std::string> users;
  if (touched.all) {
    auto all = AllUsers(tx, scope);
    if (!all) return Fail(all.error());
    users = std::move(*all);
  } else {
    users.assign(touched.users.begin(), touched.users.end());
  }
  Effective out;
  for (const std::string& u : users) {
    auto e = EffectiveFor(tx, scope, u, *def);
    if (!e) return Fail(e.error());
    out.emplace(u, std::move(*e));
  }
  return out;
}

// device.policy for every device of a user whose effective policy moved (or one resync past the bound). The event
// names the policy when the device has one of its own (via user or group) and null when it follows the default
// (or has none): connectors keep the default apart (§7.2 device_policies lists devices not on the default).
StoreResult<void> AppendDevicePolicyEvents(const Context& ctx, store::WriteTx& tx, const Effective& before,
                                           const Effective& after) {
  std::vector<store::EventRecord> events;
  bool too_many = false;
  for (const auto& [user, now] : after) {
    auto was = before.find(user);
    if (was != before.end() && was->second.policy == now.policy) continue;
    if (was == before.end() && !now.policy) continue;
    const bool own = now.via == PolicyVia::kUser || now.via == PolicyVia::kGroup;
    store::DeviceFilter filter;
    filter.user_id = user;
    std::string last;
    for (;;) {
      auto page = tx.ListDevices(*ctx.scope, filter, last, store::kMaxPageLimit);
      if (!page) return Fail(page.error());
      for (const auto& d : page->items) {
        if (events.size() == kMaxDevicePolicyEvents) {
          too_many = true;
          break;
        }
        events.push_back(TenantEvent(ctx, wire::kEventDevicePolicy,
                                     {{wire::kEventDeviceField, d.id},
                                      {wire::kEventPolicyField, own ? json(*now.policy) : json(nullptr)}}));
      }
      if (too_many || !page->more || page->items.empty()) break;
      last = page->items.back().id;
    }
    if (too_many) break;
  }
  if (too_many) {
    auto r = tx.AppendEvent(TenantEvent(
        ctx, wire::kEventResync,
        {{wire::kEventReasonField,
          fmt::format("a policy change moved more than {} devices' effective policy", kMaxDevicePolicyEvents)}}));
    if (!r) return Fail(r.error());
    return {};
  }
  for (const auto& e : events) {
    auto r = tx.AppendEvent(e);
    if (!r) return Fail(r.error());
  }
  return {};
}

// Clears the tenant's default (if another policy holds it) and tells connectors that policy is no longer the
// default. `except`: the policy about to become the default.
StoreResult<void> ClearOtherDefault(const Context& ctx, store::WriteTx& tx, std::string_view except) {
  auto old = tx.GetDefaultPolicy(*ctx.scope);
  if (!old) return Fail(old.error());
  if (!*old || (*old)->id == except) return {};
  auto cleared = tx.ClearDefaultPolicy(*ctx.scope, ctx.now);
  if (!cleared) return Fail(cleared.error());
  store::PolicyRecord was = **old;
  was.is_default = false;
  auto r = tx.AppendEvent(PolicyUpdatedEvent(ctx, was));
  if (!r) return Fail(r.error());
  return {};
}

// The If-Match of a PUT: absent (unconditional), or `"<version>"`.
std::variant<std::optional<int64_t>, Problem> IfMatch(const Context& ctx) {
  const std::string* h = ctx.request.Header("if-match");
  if (h == nullptr) return std::optional<int64_t>();
  std::string_view v = *h;
  int64_t n = 0;
  bool ok = v.size() >= 3 && v.size() <= 20 && v.front() == '"' && v.back() == '"';
  for (size_t i = 1; ok && i + 1 < v.size(); ++i) {
    ok = v[i] >= '0' && v[i] <= '9';
    n = n * 10 + (v[i] - '0');
  }
  if (!ok) {
    return InvalidRequest({FieldError{"", FieldErrorCode::kBadFormat,
                                      "If-Match must be the policy's version in quotes, like \"3\""}},
                          1);
  }
  return std::optional<int64_t>(n);
}

Problem VersionMismatch(int64_t version) {
  Problem p = MakeProblem(ProblemType::kVersionMismatch,
                          fmt::format("If-Match is not the policy's version ({})", version));
  p.extensions["version"] = version;
  return p;
}

std::optional<Problem> CheckIdParam(std::string_view name, std::string_view value, IdKind kind) {
  if (IsValidId(kind, value)) return std::nullopt;
  return InvalidQueryParameter(name, fmt::format("not a valid {} id", IdKindName(kind)));
}

}  // namespace

Outcome CreatePolicy(Context& ctx) {
  auto in = DecodePolicyWrite(ctx.body);
  if (!in) return in.error();
  auto toml = CheckPolicy(*in);
  if (!toml) return toml.error();
  store::PolicyRecord rec;
  rec.id = GenerateId(IdKind::kPolicy);
  rec.name = in->name;
  rec.version = 1;
  rec.is_default = in->is_default;
  rec.doc_json = EncodePolicyRules(*in).dump();
  rec.toml = std::move(*toml);
  rec.created_at = rec.updated_at = ctx.now;

  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Write());
  Touched touched{rec.is_default, {}};
  Effective before;
  if (rec.is_default) {
    STRAIT_STORE_ASSIGN(before, Snapshot(*tx, *ctx.scope, touched));
    STRAIT_STORE_TRY(ClearOtherDefault(ctx, *tx, rec.id));
  }
  STRAIT_STORE_TRY(tx->InsertPolicy(*ctx.scope, rec));
  STRAIT_STORE_TRY(tx->AppendEvent(PolicyUpdatedEvent(ctx, rec)));
  if (rec.is_default) {
    STRAIT_STORE_ASSIGN(Effective after, Snapshot(*tx, *ctx.scope, touched));
    STRAIT_STORE_TRY(AppendDevicePolicyEvents(ctx, *tx, before, after));
  }
  STRAIT_STORE_TRY(AppendAudit(ctx, *tx, "policy.create", "policy", rec.id,
                               {{"name", rec.name}, {"default", rec.is_default}, {"version", rec.version}}));
  Reply r{201, PolicyJson(rec),
          {{"Location", fmt::format("/v1/tenants/{}/policies/{}", ctx.scope->tenant(), rec.id)},
           {"ETag", ETag(rec.version)}}};
  return CommitReply(ctx, *tx, std::move(r));
}

Outcome ListPolicies(Context& ctx) {
  if (auto bad = RejectUnknownQuery(ctx, {"limit", "cursor"})) return *bad;
  std::string_view parts[] = {ctx.scope->tenant()};
  auto args = ReadPaging(ctx, CursorList::kPolicies, parts);
  if (auto* p = std::get_if<Problem>(&args)) return *p;
  const PageArgs& page = std::get<PageArgs>(args);
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Read());
  STRAIT_STORE_ASSIGN(auto rows, tx->ListPolicies(*ctx.scope, page.after_text(), page.limit));
  json items = json::array();
  for (const auto& p : rows.items) items.push_back(PolicySummaryJson(p));
  std::vector<uint8_t> last = rows.items.empty() ? std::vector<uint8_t>() : KeyBytes(rows.items.back().id);
  return Reply{200, PageJson(ctx, CursorList::kPolicies, page, std::move(items), rows.more, last), {}};
}

Outcome GetPolicy(Context& ctx) {
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Read());
  STRAIT_STORE_ASSIGN(auto rec, tx->GetPolicy(*ctx.scope, ctx.params.Get("policy")));
  if (!rec) return NotFound("no such policy");
  return Reply{200, PolicyJson(*rec), {{"ETag", ETag(rec->version)}}};
}

Outcome PutPolicy(Context& ctx) {
  auto if_match = IfMatch(ctx);
  if (auto* p = std::get_if<Problem>(&if_match)) return *p;
  const std::optional<int64_t> expected = std::get<std::optional<int64_t>>(if_match);
  auto in = DecodePolicyWrite(ctx.body);
  if (!in) return in.error();
  auto toml = CheckPolicy(*in);
  if (!toml) return toml.error();

  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Write());
  STRAIT_STORE_ASSIGN(auto old, tx->GetPolicy(*ctx.scope, ctx.params.Get("policy")));
  if (!old) return NotFound("no such policy");
  if (expected && *expected != old->version) return VersionMismatch(old->version);
  store::PolicyRecord rec = *old;
  rec.name = in->name;
  rec.is_default = in->is_default;
  rec.doc_json = EncodePolicyRules(*in).dump();
  rec.toml = std::move(*toml);
  rec.version = old->version + 1;
  rec.updated_at = ctx.now;

  // Only a change of the default flag moves devices; new rules reach them through policy.updated.
  const bool default_moved = rec.is_default != old->is_default;
  Touched touched{true, {}};
  Effective before;
  if (default_moved) {
    STRAIT_STORE_ASSIGN(before, Snapshot(*tx, *ctx.scope, touched));
  }
  if (rec.is_default) STRAIT_STORE_TRY(ClearOtherDefault(ctx, *tx, rec.id));
  STRAIT_STORE_ASSIGN(bool updated, tx->UpdatePolicy(*ctx.scope, rec));
  if (!updated) return VersionMismatch(old->version);
  STRAIT_STORE_TRY(tx->AppendEvent(PolicyUpdatedEvent(ctx, rec)));
  if (default_moved) {
    STRAIT_STORE_ASSIGN(Effective after, Snapshot(*tx, *ctx.scope, touched));
    STRAIT_STORE_TRY(AppendDevicePolicyEvents(ctx, *tx, before, after));
  }
  STRAIT_STORE_TRY(AppendAudit(ctx, *tx, "policy.update", "policy", rec.id,
                               {{"name", rec.name}, {"default", rec.is_default}, {"version", rec.version}}));
  return CommitReply(ctx, *tx, Reply{200, PolicyJson(rec), {{"ETag", ETag(rec.version)}}});
}

Outcome DeletePolicy(Context& ctx) {
  const std::string id(ctx.params.Get("policy"));
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Write());
  STRAIT_STORE_ASSIGN(auto old, tx->GetPolicy(*ctx.scope, id));
  if (!old) return NotFound("no such policy");
  // Its assignments go with it (the store cascades): their users move, and if it was the default, everyone on it.
  Touched touched{old->is_default, {}};
  if (!touched.all) {
    store::AssignmentFilter filter;
    filter.policy_id = id;
    std::string after;
    for (;;) {
      STRAIT_STORE_ASSIGN(auto page, tx->ListAssignments(*ctx.scope, filter, after, store::kMaxPageLimit));
      for (const auto& a : page.items) STRAIT_STORE_TRY(AddAssignmentUsers(*tx, *ctx.scope, a, touched.users));
      if (!page.more || page.items.empty()) break;
      after = page.items.back().id;
    }
  }
  STRAIT_STORE_ASSIGN(Effective before, Snapshot(*tx, *ctx.scope, touched));
  STRAIT_STORE_ASSIGN(bool deleted, tx->DeletePolicy(*ctx.scope, id));
  if (!deleted) return NotFound("no such policy");
  STRAIT_STORE_TRY(tx->AppendEvent(TenantEvent(ctx, wire::kEventPolicyDeleted, {{wire::kEventPolicyField, id}})));
  STRAIT_STORE_ASSIGN(Effective after, Snapshot(*tx, *ctx.scope, touched));
  STRAIT_STORE_TRY(AppendDevicePolicyEvents(ctx, *tx, before, after));
  STRAIT_STORE_TRY(AppendAudit(ctx, *tx, "policy.delete", "policy", id, {{"name", old->name}}));
  return CommitReply(ctx, *tx, Reply{204, nullptr, {}});
}

Outcome CreateAssignment(Context& ctx) {
  auto in = DecodeAssignmentCreate(ctx.body);
  if (!in) return in.error();
  store::PolicyAssignmentRecord rec;
  rec.id = GenerateId(IdKind::kAssignment);
  rec.policy_id = in->policy;
  rec.target_kind = StoreTarget(in->target);
  rec.target_id = in->target_id;
  rec.priority = in->priority;
  rec.created_at = rec.updated_at = ctx.now;

  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Write());
  STRAIT_STORE_ASSIGN(auto policy, tx->GetPolicy(*ctx.scope, rec.policy_id));
  if (!policy) return NotFound("no such policy");
  if (in->target == AssignmentTarget::kUser) {
    STRAIT_STORE_ASSIGN(auto user, tx->GetUser(*ctx.scope, rec.target_id));
    if (!user) return NotFound("no such user");
  } else {
    STRAIT_STORE_ASSIGN(auto group, tx->GetGroup(*ctx.scope, rec.target_id));
    if (!group) return NotFound("no such group");
  }
  Touched touched;
  STRAIT_STORE_TRY(AddAssignmentUsers(*tx, *ctx.scope, rec, touched.users));
  STRAIT_STORE_ASSIGN(Effective before, Snapshot(*tx, *ctx.scope, touched));
  STRAIT_STORE_TRY(tx->InsertAssignment(*ctx.scope, rec));
  STRAIT_STORE_ASSIGN(Effective after, Snapshot(*tx, *ctx.scope, touched));
  STRAIT_STORE_TRY(AppendDevicePolicyEvents(ctx, *tx, before, after));
  STRAIT_STORE_TRY(AppendAudit(ctx, *tx, "policy_assignment.create", "policy_assignment", rec.id,
                               EncodeAssignmentCreate(*in)));
  Reply r{201, AssignmentJson(rec),
          {{"Location", fmt::format("/v1/tenants/{}/policy-assignments/{}", ctx.scope->tenant(), rec.id)}}};
  return CommitReply(ctx, *tx, std::move(r));
}

Outcome ListAssignments(Context& ctx) {
  if (auto bad = RejectUnknownQuery(ctx, {"limit", "cursor", "policy", "user", "group"})) return *bad;
  store::AssignmentFilter filter;
  if (auto v = ctx.query.Get("policy")) {
    if (auto bad = CheckIdParam("policy", *v, IdKind::kPolicy)) return *bad;
    filter.policy_id = std::string(*v);
  }
  if (auto v = ctx.query.Get("user")) {
    if (auto bad = CheckIdParam("user", *v, IdKind::kUser)) return *bad;
    filter.user_id = std::string(*v);
  }
  if (auto v = ctx.query.Get("group")) {
    if (auto bad = CheckIdParam("group", *v, IdKind::kGroup)) return *bad;
    filter.group_id = std::string(*v);
  }
  // The filters are part of the cursor's scope: a cursor of one filtered list is refused on another.
  std::string_view parts[] = {ctx.scope->tenant(), filter.policy_id ? std::string_view(*filter.policy_id) : "",
                              filter.user_id ? std::string_view(*filter.user_id) : "",
                              filter.group_id ? std::string_view(*filter.group_id) : ""};
  auto args = ReadPaging(ctx, CursorList::kAssignments, parts);
  if (auto* p = std::get_if<Problem>(&args)) return *p;
  const PageArgs& page = std::get<PageArgs>(args);
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Read());
  STRAIT_STORE_ASSIGN(auto rows, tx->ListAssignments(*ctx.scope, filter, page.after_text(), page.limit));
  json items = json::array();
  for (const auto& a : rows.items) items.push_back(AssignmentJson(a));
  std::vector<uint8_t> last = rows.items.empty() ? std::vector<uint8_t>() : KeyBytes(rows.items.back().id);
  return Reply{200, PageJson(ctx, CursorList::kAssignments, page, std::move(items), rows.more, last), {}};
}

Outcome DeleteAssignment(Context& ctx) {
  const std::string id(ctx.params.Get("assignment"));
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Write());
  STRAIT_STORE_ASSIGN(auto old, tx->GetAssignment(*ctx.scope, id));
  if (!old) return NotFound("no such policy assignment");
  Touched touched;
  STRAIT_STORE_TRY(AddAssignmentUsers(*tx, *ctx.scope, *old, touched.users));
  STRAIT_STORE_ASSIGN(Effective before, Snapshot(*tx, *ctx.scope, touched));
  STRAIT_STORE_ASSIGN(bool deleted, tx->DeleteAssignment(*ctx.scope, id));
  if (!deleted) return NotFound("no such policy assignment");
  STRAIT_STORE_ASSIGN(Effective after, Snapshot(*tx, *ctx.scope, touched));
  STRAIT_STORE_TRY(AppendDevicePolicyEvents(ctx, *tx, before, after));
  STRAIT_STORE_TRY(AppendAudit(ctx, *tx, "policy_assignment.delete", "policy_assignment", id,
                               {{"policy", old->policy_id}}));
  return CommitReply(ctx, *tx, Reply{204, nullptr, {}});
}

StoreResult<std::vector<std::pair<std::string, std::string>>> DevicesWithOwnPolicy(store::ReadTx& tx,
                                                                                 const store::TenantScope& scope) {
  auto def = DefaultPolicyId(tx, scope);
  if (!def) return Fail(def.error());
  auto users = AllUsers(tx, scope);
  if (!users) return Fail(users.error());
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string& user : *users) {
    auto e = EffectiveFor(tx, scope, user, *def);
    if (!e) return Fail(e.error());
    if ((e->via != PolicyVia::kUser && e->via != PolicyVia::kGroup) || !e->policy) continue;
    store::DeviceFilter filter;
    filter.user_id = user;
    std::string last;
    for (;;) {
      auto page = tx.ListDevices(scope, filter, last, store::kMaxPageLimit);
      if (!page) return Fail(page.error());
      for (const auto& d : page->items) out.emplace_back(d.id, *e->policy);
      if (!page->more || page->items.empty()) break;
      last = page->items.back().id;
    }
  }
  return out;
}

Outcome GetEffectivePolicy(Context& ctx) {
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Read());
  STRAIT_STORE_ASSIGN(auto device, tx->GetDevice(*ctx.scope, ctx.params.Get("device")));
  if (!device) return NotFound("no such device");
  STRAIT_STORE_ASSIGN(auto def, DefaultPolicyId(*tx, *ctx.scope));
  STRAIT_STORE_ASSIGN(EffectivePolicy e, EffectiveFor(*tx, *ctx.scope, device->user_id, def));
  json version = nullptr;
  if (e.policy) {
    STRAIT_STORE_ASSIGN(auto policy, tx->GetPolicy(*ctx.scope, *e.policy));
    if (policy) version = policy->version;
  }
  return Reply{200,
               {{"device", device->id},
                {"policy", e.policy ? json(*e.policy) : json(nullptr)},
                {"version", version},
                {"via", PolicyViaName(e.via)},
                {"assignment", e.assignment ? json(*e.assignment) : json(nullptr)}},
               {}};
}

}  // namespace strait::control::handlers
