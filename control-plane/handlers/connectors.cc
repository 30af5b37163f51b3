// Connectors of a tenant (docs/control-plane.md §4.8, §4.9 Connector): made `pending` by an admin, `active` once a
// connector activation is redeemed (activate.cc), `revoked` by DELETE: the row stays, a denial lasts until the last
// credential issued to it expires, and `connector.revoked` tells relays to close its links (§7.3).
#include <fmt/format.h>

#include "control-plane/api/dto_enroll.h"
#include "control-plane/handlers/common.h"
#include "control-plane/handlers/handlers.h"
#include "control-plane/handlers/issuer.h"
#include "tunnel/control/control_wire.h"

namespace strait::control::handlers {
namespace {

nlohmann::json ConnectorJson(const store::ConnectorRecord& c, const std::optional<store::CredentialRecord>& cred) {
  nlohmann::json keys = nullptr;
  if (c.signing_public && c.noise_public) {
    keys = {{"signing", BytesJson(*c.signing_public)}, {"noise", BytesJson(*c.noise_public)}};
  }
  return {{"id", c.id},
          {"display_name", c.display_name},
          {"state", store::ToString(c.state)},
          {"keys", keys},
          {"credential", cred ? CredentialJson(cred->serial, cred->not_after) : nlohmann::json()},
          {"enrolled_at", TimeJson(c.enrolled_at)},
          {"created_at", TimeJson(c.created_at)},
          {"updated_at", TimeJson(c.updated_at)}};
}

store::StoreResult<std::optional<store::CredentialRecord>> Newest(store::ReadTx& tx, const store::TenantScope& scope,
                                                                  std::string_view id) {
  auto creds = tx.NewestCredentials(scope, store::SubjectRole::kConnector, id, 1);
  if (!creds) return Fail(creds.error());
  if (creds->empty()) return std::optional<store::CredentialRecord>();
  return std::optional<store::CredentialRecord>(creds->front());
}

}  // namespace

Outcome CreateConnector(Context& ctx) {
  auto in = DecodeConnectorCreate(ctx.body);
  if (!in) return in.error();
  store::ConnectorRecord rec;
  rec.id = in->id;
  rec.display_name = in->display_name;
  rec.state = store::EnrolState::kPending;
  rec.created_at = rec.updated_at = ctx.now;
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Write());
  STRAIT_STORE_TRY(tx->InsertConnector(*ctx.scope, rec));
  STRAIT_STORE_TRY(AppendAudit(ctx, *tx, "connector.create", "connector", rec.id,
                               {{"display_name", rec.display_name}}));
  Reply r{201, ConnectorJson(rec, std::nullopt),
          {{"Location", fmt::format("/v1/tenants/{}/connectors/{}", ctx.scope->tenant(), rec.id)}}};
  return CommitReply(ctx, *tx, std::move(r));
}

Outcome ListConnectors(Context& ctx) {
  if (auto bad = RejectUnknownQuery(ctx, {"limit", "cursor"})) return *bad;
  std::string_view parts[] = {ctx.scope->tenant()};
  auto args = ReadPaging(ctx, CursorList::kConnectors, parts);
  if (auto* p = std::get_if<Problem>(&args)) return *p;
  const PageArgs& page = std::get<PageArgs>(args);
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Read());
  STRAIT_STORE_ASSIGN(auto rows, tx->ListConnectors(*ctx.scope, page.after_text(), page.limit));
  nlohmann::json items = nlohmann::json::array();
  for (const auto& c : rows.items) {
    STRAIT_STORE_ASSIGN(auto cred, Newest(*tx, *ctx.scope, c.id));
    items.push_back(ConnectorJson(c, cred));
  }
  std::vector<uint8_t> last = rows.items.empty() ? std::vector<uint8_t>() : KeyBytes(rows.items.back().id);
  return Reply{200, PageJson(ctx, CursorList::kConnectors, page, std::move(items), rows.more, last), {}};
}

Outcome GetConnector(Context& ctx) {
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Read());
  const std::string_view id = ctx.params.Get("connector");
  STRAIT_STORE_ASSIGN(auto c, tx->GetConnector(*ctx.scope, id));
  if (!c) return NotFound("no such connector");
  STRAIT_STORE_ASSIGN(auto cred, Newest(*tx, *ctx.scope, id));
  return Reply{200, ConnectorJson(*c, cred), {}};
}

Outcome PatchConnector(Context& ctx) {
  auto in = DecodeConnectorPatch(ctx.body);
  if (!in) return in.error();
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Write());
  const std::string_view id = ctx.params.Get("connector");
  STRAIT_STORE_ASSIGN(auto c, tx->GetConnector(*ctx.scope, id));
  if (!c) return NotFound("no such connector");
  STRAIT_STORE_ASSIGN(auto cred, Newest(*tx, *ctx.scope, id));
  if (!in->display_name || *in->display_name == c->display_name) return Reply{200, ConnectorJson(*c, cred), {}};
  c->display_name = *in->display_name;
  c->updated_at = ctx.now;
  STRAIT_STORE_TRY(tx->UpdateConnector(*ctx.scope, *c));
  STRAIT_STORE_TRY(AppendAudit(ctx, *tx, "connector.update", "connector", c->id,
                               {{"display_name", c->display_name}}));
  return CommitReply(ctx, *tx, Reply{200, ConnectorJson(*c, cred), {}});
}

Outcome DeleteConnector(Context& ctx) {
  namespace wire = strait::control::wire;
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Write());
  const std::string_view id = ctx.params.Get("connector");
  STRAIT_STORE_ASSIGN(auto c, tx->GetConnector(*ctx.scope, id));
  if (!c) return NotFound("no such connector");
  if (c->state == store::EnrolState::kRevoked) return Reply{204, nullptr, {}};  // revoked already: nothing to do
  STRAIT_STORE_ASSIGN(auto cred, Newest(*tx, *ctx.scope, id));
  c->state = store::EnrolState::kRevoked;
  c->updated_at = ctx.now;
  STRAIT_STORE_TRY(tx->UpdateConnector(*ctx.scope, *c));
  // A denial lasts as long as the last credential issued to it could be shown (none issued: nothing to deny).
  const int64_t until = cred ? cred->not_after : ctx.now;
  if (cred) {
    STRAIT_STORE_TRY(tx->PutDenial(*ctx.scope, store::SubjectRole::kConnector, id, store::DenialReason::kRevoked,
                                   until, ctx.now));
  }
  store::EventRecord e;
  e.at = ctx.now;
  e.tenant = ctx.scope->tenant();
  e.type = std::string(wire::kEventConnectorRevoked);
  e.body = nlohmann::json{{std::string(wire::kEventTypeField), wire::kEventConnectorRevoked},
                          {std::string(wire::kEventTenantField), ctx.scope->tenant()},
                          {std::string(wire::kEventConnectorField), id},
                          {std::string(wire::kEventUntilField), TimeJson(until)}}
               .dump();
  STRAIT_STORE_TRY(tx->AppendEvent(e));
  STRAIT_STORE_TRY(AppendAudit(ctx, *tx, "connector.revoke", "connector", c->id));
  return CommitReply(ctx, *tx, Reply{204, nullptr, {}});
}

}  // namespace strait::control::handlers
