// Activations (docs/control-plane.md §4.8, §6.1): a one-time code per device, connector or relay enrolment. The code
// is shown once, in the create response; the store keeps K sealed (SealContext::kActivationKey), never the code.
#include <fmt/format.h>

#include "control-plane/api/activation_code.h"
#include "control-plane/api/dto_enroll.h"
#include "control-plane/handlers/common.h"
#include "control-plane/handlers/handlers.h"

namespace strait::control::handlers {
namespace {

store::SubjectRole Role(EnrolKind k) {
  return k == EnrolKind::kDevice ? store::SubjectRole::kDevice
         : k == EnrolKind::kConnector ? store::SubjectRole::kConnector
                                      : store::SubjectRole::kRelay;
}

nlohmann::json ActivationJson(const store::ActivationRecord& a) {
  nlohmann::json j = {{"id", a.id},
                      {"kind", store::ToString(a.kind)},
                      {"os", a.os ? nlohmann::json(store::ToString(*a.os)) : nlohmann::json()},
                      {"state", store::ToString(a.state)},
                      {"expires_at", TimeJson(a.expires_at)},
                      {"used_at", TimeJson(a.used_at)},
                      {"subject", a.subject ? nlohmann::json(*a.subject) : nlohmann::json()},
                      {"created_at", TimeJson(a.created_at)},
                      {"updated_at", TimeJson(a.updated_at)}};
  const char* target = a.kind == store::SubjectRole::kDevice ? "user"
                       : a.kind == store::SubjectRole::kConnector ? "connector"
                                                                 : "relay";
  j[target] = a.target;
  return j;
}

// host and port of the public URL (https://host[:port][/...]) for the QR payload.
bool UrlHostPort(std::string_view url, std::string* host, uint16_t* port) {
  constexpr std::string_view kScheme = "https://";
  if (url.substr(0, kScheme.size()) != kScheme) return false;
  url.remove_prefix(kScheme.size());
  url = url.substr(0, url.find('/'));
  const size_t colon = url.rfind(':');
  *port = 443;
  if (colon != std::string_view::npos && url.find(']') == std::string_view::npos) {
    unsigned p = 0;
    for (char c : url.substr(colon + 1)) {
      if (c < '0' || c > '9') return false;
      p = p * 10 + static_cast<unsigned>(c - '0');
      if (p > 65535) return false;
    }
    *port = static_cast<uint16_t>(p);
    url = url.substr(0, colon);
  }
  *host = std::string(url);
  return !host->empty() && *port != 0;
}

// Makes the activation in a write transaction whose target the caller has checked; answers ActivationCreated.
Outcome Create(Context& ctx, store::WriteTx& tx, const ActivationCreate& in, std::optional<std::string> tenant) {
  const ActivationCode code = ActivationCode::Generate();
  const ActivationKey k = DeriveActivationKey(code);
  store::ActivationRecord rec;
  rec.id = std::string(code.id());
  rec.tenant = std::move(tenant);
  rec.kind = Role(in.kind);
  rec.target = in.target;
  if (in.os) rec.os = store::ParseDeviceOs(OsWord(*in.os));
  rec.mac_key_sealed = ctx.services.sealer->Seal(store::SealContext::kActivationKey, rec.id, k.bytes());
  rec.state = store::ActivationState::kPending;
  rec.expires_at = ctx.now + in.expires_in_s;
  rec.created_by = ctx.principal.id;
  rec.created_at = rec.updated_at = ctx.now;
  STRAIT_STORE_TRY(tx.InsertActivation(rec));
  STRAIT_STORE_TRY(AppendAudit(ctx, tx, "activation.create", "activation", rec.id,
                               {{"kind", store::ToString(rec.kind)}, {"target", rec.target},
                                {"expires_at", TimeJson(rec.expires_at)}}));
  nlohmann::json body = ActivationJson(rec);
  body["code"] = code.Display();
  std::string host;
  uint16_t port = 0;
  if (UrlHostPort(ctx.services.config.public_url, &host, &port)) {
    auto qr = MakeQrPayload(code, host, port);
    body["qr"] = qr ? nlohmann::json(*qr) : nlohmann::json();
  } else {
    body["qr"] = nullptr;
  }
  body["url"] = ctx.services.config.public_url;
  const std::string location = rec.tenant ? fmt::format("/v1/tenants/{}/activations/{}", *rec.tenant, rec.id)
                                          : std::string();
  Reply r{201, std::move(body), {}};
  if (!location.empty()) r.headers.emplace_back("Location", location);
  return CommitReply(ctx, tx, std::move(r));
}

}  // namespace

Outcome CreateActivation(Context& ctx) {
  auto in = DecodeActivationCreate(ctx.body);
  if (!in) return in.error();
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Write());
  if (in->kind == EnrolKind::kDevice) {
    STRAIT_STORE_ASSIGN(auto user, tx->GetUser(*ctx.scope, in->target));
    if (!user) return Conflict(fmt::format("no user {} in this tenant", in->target), "user");
  } else {
    STRAIT_STORE_ASSIGN(auto c, tx->GetConnector(*ctx.scope, in->target));
    if (!c) return Conflict(fmt::format("no connector {} in this tenant", in->target), "connector");
    if (c->state == store::EnrolState::kRevoked) {
      return Conflict(fmt::format("connector {} is revoked", in->target), "connector");
    }
  }
  return Create(ctx, *tx, *in, ctx.scope->tenant());
}

Outcome CreateRelayActivation(Context& ctx) {
  auto in = DecodeRelayActivationCreate(ctx.body);
  if (!in) return in.error();
  const std::string relay(*ctx.params.Find("relay"));
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Write());
  STRAIT_STORE_ASSIGN(auto r, tx->GetRelay(relay));
  if (!r) return NotFound("no such relay");
  if (r->state == store::EnrolState::kRevoked) return Conflict(fmt::format("relay {} is revoked", relay), "relay");
  in->target = relay;
  return Create(ctx, *tx, *in, std::nullopt);
}

Outcome ListActivations(Context& ctx) {
  if (auto bad = RejectUnknownQuery(ctx, {"limit", "cursor", "state", "kind"})) return *bad;
  store::ActivationFilter filter;
  std::string state_text, kind_text;
  if (auto s = ctx.query.Get("state")) {
    filter.state = store::ParseActivationState(*s);
    if (!filter.state) {
      return InvalidRequest({FieldError{"/state", FieldErrorCode::kBadFormat,
                                        "expected pending, used, expired, cancelled or burned"}},
                            1);
    }
    state_text = std::string(*s);
  }
  if (auto k = ctx.query.Get("kind")) {
    filter.kind = store::ParseSubjectRole(*k);
    if (!filter.kind || *filter.kind == store::SubjectRole::kRelay) {
      return InvalidRequest({FieldError{"/kind", FieldErrorCode::kBadFormat, "expected device or connector"}}, 1);
    }
    kind_text = std::string(*k);
  }
  std::string_view parts[] = {ctx.scope->tenant(), state_text, kind_text};
  auto args = ReadPaging(ctx, CursorList::kActivations, parts);
  if (auto* p = std::get_if<Problem>(&args)) return *p;
  const PageArgs& page = std::get<PageArgs>(args);
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Read());
  STRAIT_STORE_ASSIGN(auto rows, tx->ListActivations(*ctx.scope, filter, page.after_text(), page.limit));
  nlohmann::json items = nlohmann::json::array();
  for (const auto& a : rows.items) items.push_back(ActivationJson(a));
  std::vector<uint8_t> last = rows.items.empty() ? std::vector<uint8_t>() : KeyBytes(rows.items.back().id);
  return Reply{200, PageJson(ctx, CursorList::kActivations, page, std::move(items), rows.more, last), {}};
}

Outcome GetActivation(Context& ctx) {
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Read());
  STRAIT_STORE_ASSIGN(auto a, tx->GetTenantActivation(*ctx.scope, *ctx.params.Find("activation")));
  if (!a) return NotFound("no such activation");
  return Reply{200, ActivationJson(*a), {}};
}

Outcome DeleteActivation(Context& ctx) {
  const std::string id(*ctx.params.Find("activation"));
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Write());
  STRAIT_STORE_ASSIGN(auto a, tx->GetTenantActivation(*ctx.scope, id));
  if (!a) return NotFound("no such activation");
  STRAIT_STORE_ASSIGN(bool cancelled, tx->CancelActivation(*ctx.scope, id, ctx.now));
  if (!cancelled) {
    return Conflict(fmt::format("activation {} is {}: only a pending one can be cancelled", id,
                                store::ToString(a->state)),
                    "state");
  }
  STRAIT_STORE_TRY(AppendAudit(ctx, *tx, "activation.cancel", "activation", id));
  return CommitReply(ctx, *tx, Reply{204, nullptr, {}});
}

}  // namespace strait::control::handlers
