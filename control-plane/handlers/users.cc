// Users (docs/control-plane.md §4.8 Tenant, §4.9 User): create, list (?email=), read, rename, delete. A user's
// delete revokes and removes its devices first (one device.revoked each), then the user; its memberships and
// assignments go with it in the store.
#include <fmt/format.h>

#include "control-plane/api/dto_people.h"
#include "control-plane/handlers/common.h"
#include "control-plane/handlers/device_denial.h"
#include "control-plane/handlers/handlers.h"
#include "tunnel/control/control_wire.h"

namespace strait::control::handlers {
namespace {

// The reason a user's delete gives its devices' denials and events.
constexpr std::string_view kUserDeletedReason = "user deleted";
// Devices of a deleted user are read in pages of this many (the user's devices are bounded by the tenant's).
constexpr size_t kDevicePage = 500;

nlohmann::json UserJson(const store::UserRecord& u, int64_t device_count) {
  return {{"id", u.id},
          {"email", u.email},
          {"display_name", u.display_name},
          {"device_count", device_count},
          {"created_at", TimeJson(u.created_at)},
          {"updated_at", TimeJson(u.updated_at)}};
}

std::string UserLocation(const Context& ctx, std::string_view id) {
  return fmt::format("/v1/tenants/{}/users/{}", ctx.scope->tenant(), id);
}

}  // namespace

Outcome CreateUser(Context& ctx) {
  auto in = DecodeUserCreate(ctx.body);
  if (!in) return in.error();
  store::UserRecord rec;
  rec.id = GenerateId(IdKind::kUser);
  rec.email = in->email;
  rec.display_name = in->display_name;
  rec.created_at = rec.updated_at = ctx.now;
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Write());
  STRAIT_STORE_TRY(tx->InsertUser(*ctx.scope, rec));
  STRAIT_STORE_TRY(AppendAudit(ctx, *tx, "user.create", "user", rec.id,
                               {{"email", rec.email}, {"display_name", rec.display_name}}));
  return CommitReply(ctx, *tx, Reply{201, UserJson(rec, 0), {{"Location", UserLocation(ctx, rec.id)}}});
}

Outcome ListUsers(Context& ctx) {
  if (auto bad = RejectUnknownQuery(ctx, {"limit", "cursor", "email"})) return *bad;
  // `?email=` is checked as the body field is (§4.1), so a lookup by "Ann@X" finds ann@x.
  std::optional<std::string> email;
  if (auto v = ctx.query.Get("email")) {
    FieldErrors errors;
    const nlohmann::json q = {{"email", std::string(*v)}};
    ObjectReader r(q, "", &errors);
    email = r.Email("email", Need::kRequired);
    r.Finish();
    if (!errors.empty()) return errors.ToProblem();
  }
  const std::string filter = email ? "email=" + *email : "";
  std::string_view parts[] = {ctx.scope->tenant(), filter};
  auto args = ReadPaging(ctx, CursorList::kUsers, parts);
  if (auto* p = std::get_if<Problem>(&args)) return *p;
  const PageArgs& page = std::get<PageArgs>(args);
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Read());
  store::Page<store::UserRecord> rows;
  if (email) {
    // Emails are unique per tenant: the page is that user or nothing.
    STRAIT_STORE_ASSIGN(auto found, tx->GetUserByEmail(*ctx.scope, *email));
    if (found && (page.after.empty() || found->id > page.after_text())) rows.items.push_back(std::move(*found));
  } else {
    STRAIT_STORE_ASSIGN(rows, tx->ListUsers(*ctx.scope, page.after_text(), page.limit));
  }
  nlohmann::json items = nlohmann::json::array();
  for (const auto& u : rows.items) {
    STRAIT_STORE_ASSIGN(int64_t devices, tx->CountUserDevices(*ctx.scope, u.id));
    items.push_back(UserJson(u, devices));
  }
  std::vector<uint8_t> last = rows.items.empty() ? std::vector<uint8_t>() : KeyBytes(rows.items.back().id);
  return Reply{200, PageJson(ctx, CursorList::kUsers, page, std::move(items), rows.more, last), {}};
}

Outcome GetUser(Context& ctx) {
  const std::string_view id = ctx.params.Get("user");
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Read());
  STRAIT_STORE_ASSIGN(auto u, tx->GetUser(*ctx.scope, id));
  if (!u) return NotFound("no such user");
  STRAIT_STORE_ASSIGN(int64_t devices, tx->CountUserDevices(*ctx.scope, id));
  return Reply{200, UserJson(*u, devices), {}};
}

Outcome PatchUser(Context& ctx) {
  auto in = DecodeUserPatch(ctx.body);
  if (!in) return in.error();
  const std::string_view id = ctx.params.Get("user");
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Write());
  STRAIT_STORE_ASSIGN(auto u, tx->GetUser(*ctx.scope, id));
  if (!u) return NotFound("no such user");
  STRAIT_STORE_ASSIGN(int64_t devices, tx->CountUserDevices(*ctx.scope, id));
  nlohmann::json changed = nlohmann::json::object();
  if (in->email && *in->email != u->email) {
    u->email = *in->email;
    changed["email"] = u->email;
  }
  if (in->display_name && *in->display_name != u->display_name) {
    u->display_name = *in->display_name;
    changed["display_name"] = u->display_name;
  }
  if (changed.empty()) return Reply{200, UserJson(*u, devices), {}};  // nothing to change, nothing to audit
  u->updated_at = ctx.now;
  STRAIT_STORE_TRY(tx->UpdateUser(*ctx.scope, *u));
  STRAIT_STORE_TRY(AppendAudit(ctx, *tx, "user.update", "user", u->id, changed));
  return CommitReply(ctx, *tx, Reply{200, UserJson(*u, devices), {}});
}

Outcome DeleteUser(Context& ctx) {
  const std::string_view id = ctx.params.Get("user");
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Write());
  STRAIT_STORE_ASSIGN(auto u, tx->GetUser(*ctx.scope, id));
  if (!u) return NotFound("no such user");
  // Every device first: a device that was not revoked yet is denied (relays and connectors cut it now) and its event
  // appended; then its row goes. All in this one transaction: the user never exists without its devices' denials.
  store::DeviceFilter filter;
  filter.user_id = std::string(id);
  std::vector<std::string> removed;
  std::string after;
  for (;;) {
    STRAIT_STORE_ASSIGN(auto page, tx->ListDevices(*ctx.scope, filter, after, kDevicePage));
    for (const store::DeviceRecord& d : page.items) {
      if (d.state != store::DeviceState::kRevoked) {
        STRAIT_STORE_TRY(DenyDevice(ctx, *tx, d.id, store::DenialReason::kDeleted, wire::kEventDeviceRevoked,
                                    kUserDeletedReason));
      }
      removed.push_back(d.id);
    }
    if (!page.more || page.items.empty()) break;
    after = page.items.back().id;
  }
  for (const std::string& d : removed) STRAIT_STORE_TRY(tx->DeleteDevice(*ctx.scope, d));
  STRAIT_STORE_TRY(tx->DeleteUser(*ctx.scope, id));
  STRAIT_STORE_TRY(AppendAudit(ctx, *tx, "user.delete", "user", id,
                               {{"email", u->email}, {"devices_removed", removed.size()}}));
  return CommitReply(ctx, *tx, Reply{204, nullptr, {}});
}

}  // namespace strait::control::handlers
