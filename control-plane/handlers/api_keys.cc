// API keys (docs/control-plane.md §3 "API keys", §4.8): `sk_<id>_<secret>`, shown once, stored as a keyed hash.
#include <fmt/format.h>

#include "control-plane/api/dto.h"
#include "control-plane/api/ids.h"
#include "control-plane/handlers/common.h"
#include "control-plane/handlers/handlers.h"

namespace strait::control::handlers {
namespace {

store::ApiKeyRole StoreRole(ApiKeyRole role) {
  switch (role) {
    case ApiKeyRole::kOperator: return store::ApiKeyRole::kOperator;
    case ApiKeyRole::kAdmin: return store::ApiKeyRole::kAdmin;
    case ApiKeyRole::kReadOnly: return store::ApiKeyRole::kReadOnly;
  }
  return store::ApiKeyRole::kReadOnly;
}

nlohmann::json ApiKeyJson(const store::ApiKeyRecord& k) {
  return {{"id", k.id},
          {"tenant", k.tenant ? nlohmann::json(*k.tenant) : nlohmann::json()},
          {"role", store::ToString(k.role)},
          {"name", k.name},
          {"created_by", k.created_by},
          {"last_used_at", TimeJson(k.last_used_at)},
          {"created_at", TimeJson(k.created_at)}};
}

Outcome Create(Context& ctx, const ApiKeyCreate& in, std::optional<std::string> tenant) {
  store::ApiKeyRecord rec;
  rec.id = GenerateId(IdKind::kApiKey);
  const std::string secret = RandomBase32(kApiKeySecretChars);
  rec.tenant = std::move(tenant);
  rec.role = StoreRole(in.role);
  rec.name = in.name;
  rec.secret_hash = ctx.services.hasher->Hash(secret);
  rec.created_by = ctx.principal.id;
  rec.created_at = rec.updated_at = ctx.now;
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Write());
  STRAIT_STORE_TRY(tx->InsertApiKey(rec));
  STRAIT_STORE_TRY(AppendAudit(ctx, *tx, "api_key.create", "api_key", rec.id,
                               {{"name", rec.name}, {"role", store::ToString(rec.role)}}));
  nlohmann::json body = ApiKeyJson(rec);
  body["key"] = fmt::format("sk_{}_{}", rec.id, secret);  // this once; only the hash is kept
  std::string location = rec.tenant ? fmt::format("/v1/tenants/{}/api-keys/{}", *rec.tenant, rec.id)
                                    : fmt::format("/v1/api-keys/{}", rec.id);
  return CommitReply(ctx, *tx, Reply{201, std::move(body), {{"Location", location}}});
}

Outcome List(Context& ctx, CursorList list) {
  if (auto bad = RejectUnknownQuery(ctx, {"limit", "cursor"})) return *bad;
  std::string_view parts[] = {ctx.scope ? std::string_view(ctx.scope->tenant()) : std::string_view()};
  auto args = ReadPaging(ctx, list, parts);
  if (auto* p = std::get_if<Problem>(&args)) return *p;
  const PageArgs& page = std::get<PageArgs>(args);
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Read());
  STRAIT_STORE_ASSIGN(auto rows, ctx.scope ? tx->ListApiKeys(*ctx.scope, page.after_text(), page.limit)
                                           : tx->ListOperatorApiKeys(page.after_text(), page.limit));
  nlohmann::json items = nlohmann::json::array();
  for (const auto& k : rows.items) items.push_back(ApiKeyJson(k));
  std::vector<uint8_t> last = rows.items.empty() ? std::vector<uint8_t>() : KeyBytes(rows.items.back().id);
  return Reply{200, PageJson(ctx, list, page, std::move(items), rows.more, last), {}};
}

}  // namespace

Outcome CreateOperatorApiKey(Context& ctx) {
  auto in = DecodeApiKeyCreate(ctx.body);
  if (!in) return in.error();
  if (in->role != ApiKeyRole::kOperator) {
    return InvalidRequest({FieldError{"/role", FieldErrorCode::kOutOfRange,
                                      "keys made here are operator keys; a tenant's keys are made under "
                                      "/v1/tenants/{tenant}/api-keys"}},
                          1);
  }
  return Create(ctx, *in, std::nullopt);
}

Outcome ListOperatorApiKeys(Context& ctx) { return List(ctx, CursorList::kOperatorApiKeys); }

Outcome DeleteOperatorApiKey(Context& ctx) {
  const std::string_view id = ctx.params.Get("key");
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Write());
  STRAIT_STORE_ASSIGN(auto key, tx->GetApiKey(id));
  if (!key || key->tenant) return NotFound("no such operator API key");
  STRAIT_STORE_ASSIGN(int64_t count, tx->CountOperatorApiKeys());
  if (count <= 1) return Conflict("this is the last operator key: make another one first", "key");
  STRAIT_STORE_TRY(tx->DeleteOperatorApiKey(id));
  STRAIT_STORE_TRY(AppendAudit(ctx, *tx, "api_key.delete", "api_key", id));
  return CommitReply(ctx, *tx, Reply{204, nullptr, {}});
}

Outcome CreateTenantApiKey(Context& ctx) {
  auto in = DecodeApiKeyCreate(ctx.body);
  if (!in) return in.error();
  if (in->role == ApiKeyRole::kOperator) {
    return InvalidRequest({FieldError{"/role", FieldErrorCode::kOutOfRange,
                                      "a tenant's key is admin or read_only; operator keys are made at /v1/api-keys"}},
                          1);
  }
  if (in->role == ApiKeyRole::kAdmin && ctx.principal.kind != PrincipalKind::kOperator) {
    return Forbidden("only an operator key can make a tenant admin key; an admin key makes read_only keys");
  }
  return Create(ctx, *in, ctx.scope->tenant());
}

Outcome ListTenantApiKeys(Context& ctx) { return List(ctx, CursorList::kApiKeys); }

Outcome DeleteTenantApiKey(Context& ctx) {
  const std::string_view id = ctx.params.Get("key");
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Write());
  STRAIT_STORE_ASSIGN(auto key, tx->GetApiKey(id));
  if (!key || key->tenant != ctx.scope->tenant()) return NotFound("no such API key");
  if (key->role != store::ApiKeyRole::kReadOnly && ctx.principal.kind != PrincipalKind::kOperator) {
    return Forbidden("an admin key may delete read_only keys only");
  }
  STRAIT_STORE_TRY(tx->DeleteApiKey(*ctx.scope, id));
  STRAIT_STORE_TRY(AppendAudit(ctx, *tx, "api_key.delete", "api_key", id));
  return CommitReply(ctx, *tx, Reply{204, nullptr, {}});
}

}  // namespace strait::control::handlers
