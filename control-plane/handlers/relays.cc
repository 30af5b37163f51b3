// Relays (docs/control-plane.md §4.8, §4.9 Relay): the operator's. Made `pending` with the endpoints their clients
// dial and the names their TLS certificate must carry; `active` once a relay activation is redeemed; DELETE revokes
// (the row stays, `relay.revoked` tells every relay and connector, §7.3). Name changes apply at the next renew.
#include <fmt/format.h>

#include "control-plane/api/dto_enroll.h"
#include "control-plane/handlers/common.h"
#include "control-plane/handlers/handlers.h"
#include "control-plane/handlers/issuer.h"
#include "tunnel/control/control_wire.h"

namespace strait::control::handlers {
namespace {

std::vector<std::string> List(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  std::vector<std::string> out;
  if (j.is_array()) {
    for (const auto& v : j) {
      if (v.is_string()) out.push_back(v.get<std::string>());
    }
  }
  return out;
}

nlohmann::json RelayJson(const store::RelayRecord& r, const std::optional<store::CredentialRecord>& cred) {
  return {{"id", r.id},
          {"display_name", r.display_name},
          {"device_endpoint", r.device_endpoint},
          {"connector_endpoint", r.connector_endpoint},
          {"tls_names", List(r.tls_names)},
          {"tls_ips", List(r.tls_ips)},
          {"state", store::ToString(r.state)},
          {"keys", {{"signing", r.signing_public ? BytesJson(*r.signing_public) : nlohmann::json()}}},
          {"credential", cred ? CredentialJson(cred->serial, cred->not_after) : nlohmann::json()},
          {"tls_cert_not_after", TimeJson(r.tls_cert_not_after)},
          {"created_at", TimeJson(r.created_at)},
          {"updated_at", TimeJson(r.updated_at)}};
}

store::StoreResult<std::optional<store::CredentialRecord>> Newest(store::ReadTx& tx, std::string_view id) {
  auto creds = tx.NewestRelayCredentials(id, 1);
  if (!creds) return Fail(creds.error());
  if (creds->empty()) return std::optional<store::CredentialRecord>();
  return std::optional<store::CredentialRecord>(creds->front());
}

}  // namespace

Outcome CreateRelay(Context& ctx) {
  auto in = DecodeRelayCreate(ctx.body);
  if (!in) return in.error();
  store::RelayRecord rec;
  rec.id = in->id;
  rec.display_name = in->display_name;
  rec.device_endpoint = in->device_endpoint;
  rec.connector_endpoint = in->connector_endpoint;
  rec.tls_names = nlohmann::json(in->tls_names).dump();
  rec.tls_ips = nlohmann::json(in->tls_ips).dump();
  rec.state = store::EnrolState::kPending;
  rec.created_at = rec.updated_at = ctx.now;
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Write());
  STRAIT_STORE_TRY(tx->InsertRelay(rec));
  STRAIT_STORE_TRY(AppendAudit(ctx, *tx, "relay.create", "relay", rec.id, EncodeRelayCreate(*in)));
  Reply r{201, RelayJson(rec, std::nullopt), {{"Location", "/v1/relays/" + rec.id}}};
  return CommitReply(ctx, *tx, std::move(r));
}

Outcome ListRelays(Context& ctx) {
  if (auto bad = RejectUnknownQuery(ctx, {"limit", "cursor"})) return *bad;
  std::string_view parts[] = {""};
  auto args = ReadPaging(ctx, CursorList::kRelays, parts);
  if (auto* p = std::get_if<Problem>(&args)) return *p;
  const PageArgs& page = std::get<PageArgs>(args);
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Read());
  STRAIT_STORE_ASSIGN(auto rows, tx->ListRelays(page.after_text(), page.limit));
  nlohmann::json items = nlohmann::json::array();
  for (const auto& r : rows.items) {
    STRAIT_STORE_ASSIGN(auto cred, Newest(*tx, r.id));
    items.push_back(RelayJson(r, cred));
  }
  std::vector<uint8_t> last = rows.items.empty() ? std::vector<uint8_t>() : KeyBytes(rows.items.back().id);
  return Reply{200, PageJson(ctx, CursorList::kRelays, page, std::move(items), rows.more, last), {}};
}

Outcome GetRelay(Context& ctx) {
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Read());
  const std::string_view id = ctx.params.Get("relay");
  STRAIT_STORE_ASSIGN(auto r, tx->GetRelay(id));
  if (!r) return NotFound("no such relay");
  STRAIT_STORE_ASSIGN(auto cred, Newest(*tx, id));
  return Reply{200, RelayJson(*r, cred), {}};
}

Outcome PatchRelay(Context& ctx) {
  auto in = DecodeRelayPatch(ctx.body);
  if (!in) return in.error();
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Write());
  const std::string_view id = ctx.params.Get("relay");
  STRAIT_STORE_ASSIGN(auto r, tx->GetRelay(id));
  if (!r) return NotFound("no such relay");
  STRAIT_STORE_ASSIGN(auto cred, Newest(*tx, id));
  nlohmann::json changed = nlohmann::json::object();
  if (in->display_name && *in->display_name != r->display_name) changed["display_name"] = r->display_name = *in->display_name;
  if (in->device_endpoint && *in->device_endpoint != r->device_endpoint) {
    changed["device_endpoint"] = r->device_endpoint = *in->device_endpoint;
  }
  if (in->connector_endpoint && *in->connector_endpoint != r->connector_endpoint) {
    changed["connector_endpoint"] = r->connector_endpoint = *in->connector_endpoint;
  }
  std::vector<std::string> names = in->tls_names ? *in->tls_names : List(r->tls_names);
  std::vector<std::string> ips = in->tls_ips ? *in->tls_ips : List(r->tls_ips);
  if (in->tls_names && nlohmann::json(names).dump() != r->tls_names) {
    r->tls_names = nlohmann::json(names).dump();
    changed["tls_names"] = names;
  }
  if (in->tls_ips && nlohmann::json(ips).dump() != r->tls_ips) {
    r->tls_ips = nlohmann::json(ips).dump();
    changed["tls_ips"] = ips;
  }
  // The merged relay must still be covered by its certificate's names.
  std::vector<FieldError> errors;
  if (auto why = EndpointNotCovered(r->device_endpoint, names, ips)) {
    errors.push_back({"/device_endpoint", FieldErrorCode::kBadFormat, *why});
  }
  if (auto why = EndpointNotCovered(r->connector_endpoint, names, ips)) {
    errors.push_back({"/connector_endpoint", FieldErrorCode::kBadFormat, *why});
  }
  if (!errors.empty()) {
    const size_t n = errors.size();
    return InvalidRequest(std::move(errors), n);
  }
  if (changed.empty()) return Reply{200, RelayJson(*r, cred), {}};
  r->updated_at = ctx.now;
  STRAIT_STORE_TRY(tx->UpdateRelay(*r));
  STRAIT_STORE_TRY(AppendAudit(ctx, *tx, "relay.update", "relay", r->id, changed));
  return CommitReply(ctx, *tx, Reply{200, RelayJson(*r, cred), {}});
}

Outcome DeleteRelay(Context& ctx) {
  namespace wire = strait::control::wire;
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Write());
  const std::string_view id = ctx.params.Get("relay");
  STRAIT_STORE_ASSIGN(auto r, tx->GetRelay(id));
  if (!r) return NotFound("no such relay");
  if (r->state == store::EnrolState::kRevoked) return Reply{204, nullptr, {}};
  STRAIT_STORE_ASSIGN(auto cred, Newest(*tx, id));
  r->state = store::EnrolState::kRevoked;
  r->updated_at = ctx.now;
  STRAIT_STORE_TRY(tx->UpdateRelay(*r));
  const int64_t until = cred ? cred->not_after : ctx.now;
  if (cred) STRAIT_STORE_TRY(tx->PutRelayDenial(id, store::DenialReason::kRevoked, until, ctx.now));
  store::EventRecord e;
  e.at = ctx.now;
  e.type = std::string(wire::kEventRelayRevoked);
  e.body = nlohmann::json{{std::string(wire::kEventTypeField), wire::kEventRelayRevoked},
                          {std::string(wire::kEventRelayField), id},
                          {std::string(wire::kEventUntilField), TimeJson(until)}}
               .dump();
  STRAIT_STORE_TRY(tx->AppendEvent(e));
  STRAIT_STORE_TRY(AppendAudit(ctx, *tx, "relay.revoke", "relay", r->id));
  return CommitReply(ctx, *tx, Reply{204, nullptr, {}});
}

}  // namespace strait::control::handlers
