// Groups and their members (docs/control-plane.md §4.8 Tenant, §4.9 Group). A change to a group that a policy is
// assigned to can move its members' devices to another effective policy (§4.7): connectors then get a `resync`
// (§7.3) for the tenant, the bounded form of "some devices' policies changed", in the same transaction.
#include <fmt/format.h>

#include "control-plane/api/dto_people.h"
#include "control-plane/handlers/common.h"
#include "control-plane/handlers/handlers.h"
#include "tunnel/control/control_wire.h"

namespace strait::control::handlers {
namespace {

nlohmann::json GroupJson(const store::GroupRecord& g, int64_t member_count) {
  return {{"id", g.id},
          {"name", g.name},
          {"description", g.description},
          {"member_count", member_count},
          {"created_at", TimeJson(g.created_at)},
          {"updated_at", TimeJson(g.updated_at)}};
}

// Appends `resync` for the tenant if a policy is assigned to `group` (its members' effective policies may have
// moved); nothing otherwise, since a group without assignments decides no device's policy.
store::StoreResult<void> ResyncIfAssigned(const Context& ctx, store::WriteTx& tx, std::string_view group,
                                          std::string_view why) {
  store::AssignmentFilter filter;
  filter.group_id = std::string(group);
  auto assigned = tx.ListAssignments(*ctx.scope, filter, "", 1);
  if (!assigned) return Fail(assigned.error());
  if (assigned->items.empty()) return {};
  store::EventRecord e;
  e.at = ctx.now;
  e.tenant = ctx.scope->tenant();
  e.type = std::string(wire::kEventResync);
  e.body = nlohmann::json{{wire::kEventTypeField, wire::kEventResync},
                          {wire::kEventTenantField, ctx.scope->tenant()},
                          {wire::kEventReasonField, fmt::format("{} {}", why, group)}}
               .dump();
  if (auto appended = tx.AppendEvent(e); !appended) return Fail(appended.error());
  return {};
}

}  // namespace

Outcome CreateGroup(Context& ctx) {
  auto in = DecodeGroupCreate(ctx.body);
  if (!in) return in.error();
  store::GroupRecord rec;
  rec.id = GenerateId(IdKind::kGroup);
  rec.name = in->name;
  rec.description = in->description;
  rec.created_at = rec.updated_at = ctx.now;
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Write());
  STRAIT_STORE_TRY(tx->InsertGroup(*ctx.scope, rec));
  STRAIT_STORE_TRY(AppendAudit(ctx, *tx, "group.create", "group", rec.id,
                               {{"name", rec.name}, {"description", rec.description}}));
  std::string location = fmt::format("/v1/tenants/{}/groups/{}", ctx.scope->tenant(), rec.id);
  return CommitReply(ctx, *tx, Reply{201, GroupJson(rec, 0), {{"Location", std::move(location)}}});
}

Outcome ListGroups(Context& ctx) {
  if (auto bad = RejectUnknownQuery(ctx, {"limit", "cursor"})) return *bad;
  std::string_view parts[] = {ctx.scope->tenant()};
  auto args = ReadPaging(ctx, CursorList::kGroups, parts);
  if (auto* p = std::get_if<Problem>(&args)) return *p;
  const PageArgs& page = std::get<PageArgs>(args);
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Read());
  STRAIT_STORE_ASSIGN(auto rows, tx->ListGroups(*ctx.scope, page.after_text(), page.limit));
  nlohmann::json items = nlohmann::json::array();
  for (const auto& g : rows.items) {
    STRAIT_STORE_ASSIGN(int64_t members, tx->CountGroupMembers(*ctx.scope, g.id));
    items.push_back(GroupJson(g, members));
  }
  std::vector<uint8_t> last = rows.items.empty() ? std::vector<uint8_t>() : KeyBytes(rows.items.back().id);
  return Reply{200, PageJson(ctx, CursorList::kGroups, page, std::move(items), rows.more, last), {}};
}

Outcome GetGroup(Context& ctx) {
  const std::string_view id = ctx.params.Get("group");
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Read());
  STRAIT_STORE_ASSIGN(auto g, tx->GetGroup(*ctx.scope, id));
  if (!g) return NotFound("no such group");
  STRAIT_STORE_ASSIGN(int64_t members, tx->CountGroupMembers(*ctx.scope, id));
  return Reply{200, GroupJson(*g, members), {}};
}

Outcome PatchGroup(Context& ctx) {
  auto in = DecodeGroupPatch(ctx.body);
  if (!in) return in.error();
  const std::string_view id = ctx.params.Get("group");
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Write());
  STRAIT_STORE_ASSIGN(auto g, tx->GetGroup(*ctx.scope, id));
  if (!g) return NotFound("no such group");
  STRAIT_STORE_ASSIGN(int64_t members, tx->CountGroupMembers(*ctx.scope, id));
  nlohmann::json changed = nlohmann::json::object();
  if (in->name && *in->name != g->name) {
    g->name = *in->name;
    changed["name"] = g->name;
  }
  if (in->description && *in->description != g->description) {
    g->description = *in->description;
    changed["description"] = g->description;
  }
  if (changed.empty()) return Reply{200, GroupJson(*g, members), {}};
  g->updated_at = ctx.now;
  STRAIT_STORE_TRY(tx->UpdateGroup(*ctx.scope, *g));
  STRAIT_STORE_TRY(AppendAudit(ctx, *tx, "group.update", "group", g->id, changed));
  return CommitReply(ctx, *tx, Reply{200, GroupJson(*g, members), {}});
}

Outcome DeleteGroup(Context& ctx) {
  const std::string_view id = ctx.params.Get("group");
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Write());
  STRAIT_STORE_ASSIGN(auto g, tx->GetGroup(*ctx.scope, id));
  if (!g) return NotFound("no such group");
  // Asked before the delete, which takes the group's assignments with it.
  STRAIT_STORE_TRY(ResyncIfAssigned(ctx, *tx, id, "deleted group"));
  STRAIT_STORE_TRY(tx->DeleteGroup(*ctx.scope, id));
  STRAIT_STORE_TRY(AppendAudit(ctx, *tx, "group.delete", "group", id, {{"name", g->name}}));
  return CommitReply(ctx, *tx, Reply{204, nullptr, {}});
}

Outcome ListGroupMembers(Context& ctx) {
  if (auto bad = RejectUnknownQuery(ctx, {"limit", "cursor"})) return *bad;
  const std::string_view id = ctx.params.Get("group");
  std::string_view parts[] = {ctx.scope->tenant(), id};
  auto args = ReadPaging(ctx, CursorList::kGroupMembers, parts);
  if (auto* p = std::get_if<Problem>(&args)) return *p;
  const PageArgs& page = std::get<PageArgs>(args);
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Read());
  STRAIT_STORE_ASSIGN(auto g, tx->GetGroup(*ctx.scope, id));
  if (!g) return NotFound("no such group");
  STRAIT_STORE_ASSIGN(auto rows, tx->ListGroupMembers(*ctx.scope, id, page.after_text(), page.limit));
  nlohmann::json items = nlohmann::json::array();
  for (const auto& m : rows.items) items.push_back({{"user", m.user_id}, {"added_at", TimeJson(m.added_at)}});
  std::vector<uint8_t> last = rows.items.empty() ? std::vector<uint8_t>() : KeyBytes(rows.items.back().user_id);
  return Reply{200, PageJson(ctx, CursorList::kGroupMembers, page, std::move(items), rows.more, last), {}};
}

Outcome PutGroupMember(Context& ctx) {
  const std::string_view group = ctx.params.Get("group");
  const std::string_view user = ctx.params.Get("user");
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Write());
  STRAIT_STORE_ASSIGN(auto g, tx->GetGroup(*ctx.scope, group));
  if (!g) return NotFound("no such group");
  STRAIT_STORE_ASSIGN(auto u, tx->GetUser(*ctx.scope, user));
  if (!u) return NotFound("no such user");
  STRAIT_STORE_ASSIGN(bool added, tx->PutGroupMember(*ctx.scope, group, user, ctx.now));
  if (!added) return Reply{204, nullptr, {}};  // a member already: nothing changed, nothing to audit
  STRAIT_STORE_TRY(ResyncIfAssigned(ctx, *tx, group, "members of group"));
  STRAIT_STORE_TRY(AppendAudit(ctx, *tx, "group.member_add", "group", group, {{"user", user}}));
  return CommitReply(ctx, *tx, Reply{204, nullptr, {}});
}

Outcome DeleteGroupMember(Context& ctx) {
  const std::string_view group = ctx.params.Get("group");
  const std::string_view user = ctx.params.Get("user");
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Write());
  STRAIT_STORE_ASSIGN(bool removed, tx->DeleteGroupMember(*ctx.scope, group, user));
  if (!removed) return NotFound("no such group, or the user is not a member");
  STRAIT_STORE_TRY(ResyncIfAssigned(ctx, *tx, group, "members of group"));
  STRAIT_STORE_TRY(AppendAudit(ctx, *tx, "group.member_remove", "group", group, {{"user", user}}));
  return CommitReply(ctx, *tx, Reply{204, nullptr, {}});
}

}  // namespace strait::control::handlers
