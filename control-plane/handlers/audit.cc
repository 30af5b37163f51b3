// The audit log (docs/control-plane.md §4.6): newest first, filtered, paged by record id.
#include <fmt/format.h>

#include "control-plane/api/dto.h"
#include "control-plane/handlers/common.h"
#include "control-plane/handlers/handlers.h"

namespace strait::control::handlers {
namespace {

nlohmann::json AuditJson(const store::AuditRecord& a) {
  nlohmann::json detail = nlohmann::json::parse(a.detail, nullptr, false);
  if (detail.is_discarded()) detail = nlohmann::json::object();
  return {{"id", std::to_string(a.id)},
          {"at", TimeJson(a.at)},
          {"tenant", a.tenant ? nlohmann::json(*a.tenant) : nlohmann::json()},
          {"actor", {{"kind", store::ToString(a.actor_kind)}, {"id", a.actor_id}}},
          {"action", a.action},
          {"resource", {{"type", a.resource_type}, {"id", a.resource_id}}},
          {"request_id", a.request_id},
          {"detail", std::move(detail)}};
}

Outcome List(Context& ctx, CursorList list) {
  if (auto bad = RejectUnknownQuery(ctx, {"limit", "cursor", "action", "resource_type", "resource_id", "since",
                                          "until"})) {
    return *bad;
  }
  store::AuditFilter filter;
  FieldErrors errors;
  auto text = [&](std::string_view name, std::optional<std::string>* out) {
    if (auto v = ctx.query.Get(name)) {
      if (v->empty() || v->size() > 128) {
        errors.Add("/" + std::string(name), FieldErrorCode::kOutOfRange, "1..128 bytes");
      } else {
        *out = std::string(*v);
      }
    }
  };
  auto time = [&](std::string_view name, std::optional<int64_t>* out) {
    if (auto v = ctx.query.Get(name)) {
      if (auto t = ParseTime(*v)) {
        *out = t->time_since_epoch().count();
      } else {
        errors.Add("/" + std::string(name), FieldErrorCode::kBadFormat, "expected an RFC 3339 UTC time");
      }
    }
  };
  text("action", &filter.action);
  text("resource_type", &filter.resource_type);
  text("resource_id", &filter.resource_id);
  time("since", &filter.since);
  time("until", &filter.until);
  if (!errors.empty()) return errors.ToProblem();

  // The cursor is bound to the tenant and to every filter.
  const std::string since = filter.since ? std::to_string(*filter.since) : "";
  const std::string until = filter.until ? std::to_string(*filter.until) : "";
  // Named strings: a view of value_or("")'s temporary would dangle past this statement.
  const std::string action = filter.action.value_or(""), type = filter.resource_type.value_or(""),
                    id = filter.resource_id.value_or("");
  std::string_view parts[] = {ctx.scope ? std::string_view(ctx.scope->tenant()) : std::string_view(),
                              action, type, id, since, until};
  auto args = ReadPaging(ctx, list, parts);
  if (auto* p = std::get_if<Problem>(&args)) return *p;
  const PageArgs& page = std::get<PageArgs>(args);
  std::optional<store::AuditId> before;
  if (!page.after.empty()) {
    before = KeyInt(page.after);
    if (!before) return MakeProblem(ProblemType::kInvalidCursor, "the cursor is not valid for this list");
  }
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Read());
  STRAIT_STORE_ASSIGN(auto rows, ctx.scope ? tx->ListAudit(*ctx.scope, filter, before, page.limit)
                                           : tx->ListAllAudit(filter, before, page.limit));
  nlohmann::json items = nlohmann::json::array();
  for (const auto& a : rows.items) items.push_back(AuditJson(a));
  std::vector<uint8_t> last = rows.items.empty() ? std::vector<uint8_t>() : KeyBytes(rows.items.back().id);
  return Reply{200, PageJson(ctx, list, page, std::move(items), rows.more, last), {}};
}

}  // namespace

Outcome ListTenantAudit(Context& ctx) { return List(ctx, CursorList::kAudit); }
Outcome ListAllAudit(Context& ctx) { return List(ctx, CursorList::kOperatorAudit); }

}  // namespace strait::control::handlers
