#include "control-plane/handlers/dispatcher.h"

#include <chrono>
#include <exception>

#include <fmt/format.h>

#include "control-plane/api/formats.h"
#include "control-plane/api/idempotency.h"
#include "control-plane/api/ids.h"
#include "control-plane/api/json_reader.h"
#include "control-plane/api/policy_doc.h"
#include "control-plane/events/hub.h"
#include "control-plane/handlers/common.h"
#include "control-plane/handlers/machine_auth.h"

namespace strait::control {
namespace {

constexpr int64_t kTouchEverySeconds = 60;

bool AllBase32(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return kBase32Lower.find(c) != std::string_view::npos; });
}

std::vector<RouteSpec> Specs(std::span<const Route> routes) {
  std::vector<RouteSpec> out;
  out.reserve(routes.size());
  for (const Route& r : routes) out.push_back(RouteSpec{r.method, r.path});
  return out;
}

double MonotonicSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

Problem Unauthenticated(std::string detail, std::string_view reason) {
  Problem p = MakeProblem(ProblemType::kUnauthenticated, std::move(detail));
  p.extensions["reason"] = std::string(reason);
  return p;
}

bool Allowed(uint16_t who, PrincipalKind kind) {
  if (who & kWhoPublic) return true;
  switch (kind) {
    case PrincipalKind::kOperator: return (who & kWhoOperator) != 0;
    case PrincipalKind::kAdmin: return (who & kWhoAdmin) != 0;
    case PrincipalKind::kReadOnly: return (who & kWhoReadOnly) != 0;
    case PrincipalKind::kDevice:
    case PrincipalKind::kConnector:
    case PrincipalKind::kRelay: return (who & kWhoSelf) != 0;
    case PrincipalKind::kNone: return (who & (kWhoPublic | kWhoActivation)) != 0;
  }
  return false;
}

// A machine may call a self route only about itself: the path's device, connector or relay is its subject.
bool IsSelf(uint16_t who, const Principal& p, const PathParams& params) {
  std::string_view name;
  switch (p.kind) {
    case PrincipalKind::kDevice: name = "device"; break;
    case PrincipalKind::kConnector: name = "connector"; break;
    case PrincipalKind::kRelay: name = "relay"; break;
    default: return true;
  }
  if (who & kWhoPublic) return true;
  auto subject = params.Find(name);
  return subject && *subject == p.id;
}

bool IsJson(const std::string* content_type) {
  if (content_type == nullptr) return false;
  std::string_view v = *content_type;
  v = v.substr(0, v.find(';'));
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  return LowerAscii(v) == "application/json";
}

}  // namespace

std::string_view PrincipalKindName(PrincipalKind kind) {
  switch (kind) {
    case PrincipalKind::kNone: return "none";
    case PrincipalKind::kOperator: return "operator";
    case PrincipalKind::kAdmin: return "admin";
    case PrincipalKind::kReadOnly: return "read_only";
    case PrincipalKind::kDevice: return "device";
    case PrincipalKind::kConnector: return "connector";
    case PrincipalKind::kRelay: return "relay";
  }
  return "?";
}

bool ParseApiKey(std::string_view text, std::string_view* id, std::string_view* secret) {
  constexpr std::string_view kPrefix = "sk_";
  constexpr size_t kSeparator = kPrefix.size() + kApiKeyIdChars;
  if (text.size() != kSeparator + 1 + kApiKeySecretChars || text.substr(0, kPrefix.size()) != kPrefix ||
      text[kSeparator] != '_') {
    return false;
  }
  *id = text.substr(kPrefix.size(), kApiKeyIdChars);
  *secret = text.substr(kSeparator + 1);
  return AllBase32(*id) && AllBase32(*secret);
}

Dispatcher::Dispatcher(std::span<const Route> routes, Services* services, DispatcherOptions options,
                       std::function<void(std::string_view)> log)
    : routes_(routes),
      specs_(Specs(routes)),
      router_(specs_),
      services_(services),
      options_(options),
      log_(std::move(log)),
      per_key_(options.rate_per_key, options.burst_per_key, options.rate_table_entries),
      per_ip_(options.rate_unauthenticated, options.rate_unauthenticated, options.rate_table_entries),
      per_ip_activate_(options.activate_per_minute / 60, options.activate_per_minute, options.rate_table_entries),
      by_route_(std::make_unique<std::atomic<uint64_t>[]>((routes.size() + 1) * kStatusClasses.size())) {}

void Dispatcher::CountAnswer(size_t route, uint16_t status) const {
  const size_t c = status >= 500 ? 3 : status >= 400 ? 2 : status >= 300 ? 1 : 0;
  by_route_[std::min(route, routes_.size()) * kStatusClasses.size() + c].fetch_add(1, std::memory_order_relaxed);
}

size_t Dispatcher::BodyLimit(std::string_view method, std::string_view path) const {
  if (!ParseMethod(method)) return 0;
  const size_t route = RouteOf(method, path);
  return route < routes_.size() ? routes_[route].body_limit : kDefaultBodyLimit;
}

http::Response Dispatcher::Handle(const http::Request& request) {
  counters_.requests++;
  Principal principal;
  Outcome outcome;
  size_t route = routes_.size();
  try {
    outcome = Dispatch(request, &principal, &route);
  } catch (const std::exception& e) {
    counters_.internal++;
    if (log_) log_(fmt::format("request_id={} internal error: {}", request.request_id, e.what()));
    outcome = MakeProblem(ProblemType::kInternal, "an internal error; the request id is in the log");
  }
  if (const auto* p = std::get_if<struct Problem>(&outcome); p && p->type == ProblemType::kInternal) {
    if (p->extensions.contains("store_error") && log_) {
      log_(fmt::format("request_id={} store error on {} {}", request.request_id, request.method, request.path));
    }
  }
  http::Response res = Render(outcome, request);
  CountAnswer(route, res.status);
  return res;
}

Outcome Dispatcher::Dispatch(const http::Request& request, Principal* principal, size_t* route_index) {
  auto method = ParseMethod(request.method);
  if (!method) return NotFound("no such route");
  RouteMatch match = router_.Match(*method, request.path);
  if (match.kind == RouteMatch::Kind::kNotFound) return NotFound("no such route");
  if (match.kind == RouteMatch::Kind::kMethodNotAllowed) {
    struct Problem p = MakeProblem(ProblemType::kMethodNotAllowed, fmt::format("{} is not allowed here", request.method));
    p.extensions["allow"] = AllowHeader(match.allow);
    return p;
  }
  const Route& route = routes_[match.route];
  *route_index = match.route;
  const int64_t now = services_->clock->Now();

  // Credentials (§3). A P route ignores none it is given: a bad key is refused everywhere, so a client learns early.
  std::unique_ptr<store::ReadTx> tx;
  if (const std::string* auth = request.Header("authorization")) {
    auto read = services_->store->Read();
    if (!read) return StoreProblem(read.error());
    tx = std::move(*read);
    if (IsMachineCredential(*auth)) {
      MachineAuthOptions mo;
      if (route.who & kWhoGrace) mo.grace_seconds = int64_t{services_->config.renew_grace_hours} * 3600;
      auto machine = AuthenticateMachine(*auth, request, *services_, *tx, now, mo);
      if (auto* p = std::get_if<struct Problem>(&machine)) {
        if (p->type == ProblemType::kUnauthenticated) counters_.unauthenticated++;
        return std::move(*p);
      }
      *principal = std::get<Principal>(std::move(machine));
    } else {
      std::string_view v = *auth;
      std::string_view id, secret;
      if (v.substr(0, 7) != "Bearer " || !ParseApiKey(v.substr(7), &id, &secret)) {
        counters_.unauthenticated++;
        return Unauthenticated("the Authorization header is not 'Bearer sk_...' or 'Strait-Credential ...'",
                               "malformed");
      }
      auto key = tx->GetApiKey(id);
      if (!key) return StoreProblem(key.error());
      if (!*key || !services_->hasher->Matches(secret, (*key)->secret_hash)) {
        counters_.unauthenticated++;
        return Unauthenticated("unknown or revoked API key", "unknown_key");
      }
      const store::ApiKeyRecord& k = **key;
      principal->id = k.id;
      principal->tenant = k.tenant.value_or("");
      principal->kind = k.role == store::ApiKeyRole::kOperator ? PrincipalKind::kOperator
                        : k.role == store::ApiKeyRole::kAdmin  ? PrincipalKind::kAdmin
                                                               : PrincipalKind::kReadOnly;
      if (!k.last_used_at || now - *k.last_used_at >= kTouchEverySeconds) {
        if (auto w = services_->store->Write()) {
          if ((*w)->TouchApiKey(k.id, now)) (void)(*w)->Commit();
        }
      }
    }
  }
  if (principal->kind == PrincipalKind::kNone && (route.who & (kWhoPublic | kWhoActivation)) == 0) {
    counters_.unauthenticated++;
    return Unauthenticated("this route needs an API key: Authorization: Bearer sk_...", "missing");
  }

  // Rate limits (§8): per key, else per source address.
  // Redeeming codes has a bucket of its own per address, so guessing is slow however many activations it aims at.
  bool limited = principal->kind == PrincipalKind::kNone
                     ? !per_ip_.Allow(request.peer, MonotonicSeconds())
                     : !per_key_.Allow(principal->id, MonotonicSeconds());
  if (!limited && (route.who & kWhoActivation) != 0) {
    limited = !per_ip_activate_.Allow(request.peer, MonotonicSeconds());
  }
  if (limited) {
    counters_.rate_limited++;
    return MakeProblem(ProblemType::kRateLimited, "too many requests; slow down");
  }

  // The path's tenant (§3 rule 2): another tenant's is not found, exactly as one that does not exist.
  std::optional<store::TenantScope> scope;
  if (auto tenant = match.params.Find("tenant")) {
    const bool tenant_principal = principal->kind != PrincipalKind::kNone &&
                                  principal->kind != PrincipalKind::kOperator &&
                                  principal->kind != PrincipalKind::kRelay;
    if (tenant_principal && principal->tenant != *tenant) return NotFound("no such tenant");
    scope.emplace(std::string(*tenant));
    if (!tx) {
      auto read = services_->store->Read();
      if (!read) return StoreProblem(read.error());
      tx = std::move(*read);
    }
    auto t = tx->GetTenant(*scope);
    if (!t) return StoreProblem(t.error());
    if (!*t) return NotFound("no such tenant");
  }
  if (!Allowed(route.who, principal->kind) || !IsSelf(route.who, *principal, match.params)) {
    return Forbidden(fmt::format("this {} principal may not call {} {}", PrincipalKindName(principal->kind),
                                 request.method, route.path));
  }

  // The body and the query (§4.1, §4.2).
  nlohmann::json body;
  const bool takes_body = *method == Method::kPost || *method == Method::kPut || *method == Method::kPatch;
  if (!request.body.empty() || (takes_body && route.body_limit > 0)) {
    if (!IsJson(request.Header("content-type"))) {
      return MakeProblem(ProblemType::kUnsupportedMediaType, "the body must be Content-Type: application/json");
    }
    // Policy routes (the only ones past the default body limit) carry up to 100,000 patterns (§4.9).
    auto parsed = ReadJson(request.body, route.body_limit > kDefaultBodyLimit ? kPolicyJsonLimits : JsonLimits{});
    if (!parsed) {
      struct Problem p = MakeProblem(ProblemType::kMalformedJson, parsed.error().detail);
      p.extensions["offset"] = parsed.error().offset;
      return p;
    }
    if (!parsed->is_object()) {
      return InvalidRequest({FieldError{"", FieldErrorCode::kWrongType, "the body must be a JSON object"}}, 1);
    }
    body = std::move(*parsed);
  }
  auto query = QueryParams::Parse(request.query);
  if (!query) {
    return InvalidRequest({FieldError{"/" + EscapePointerToken(query.error().param), FieldErrorCode::kBadFormat,
                                      query.error().detail}},
                          1);
  }

  Context ctx{request, route, match.params, *query, *principal, std::move(scope), *services_, now, std::move(body),
              std::nullopt, principal->id, std::nullopt};

  // Idempotency-Key (§4.5), on POST only.
  if (const std::string* key = request.Header("idempotency-key"); key && *method == Method::kPost) {
    if (!IsValidIdempotencyKey(*key)) {
      return MakeProblem(ProblemType::kInvalidIdempotencyKey, "Idempotency-Key must be 1..255 printable ASCII bytes");
    }
    ctx.idempotency_key = *key;
  }
  // A request holds at most one reader at a time (the pool has one per store thread), and none across its handler,
  // which opens its own transaction.
  tx.reset();
  if (ctx.idempotency_key) {
    if (auto stored = StoredReply(ctx)) return std::move(*stored);
  }
  Outcome outcome = route.handler(ctx);
  if (services_->hub != nullptr && services_->store->LastEventId() != notified_.load()) {
    notified_ = services_->store->LastEventId();
    services_->hub->Notify();  // the change's events go out now, not at the pump's next tick
  }
  // A request that lost a race with another of the same key (it ran before the first committed, then hit the first's
  // change, e.g. a conflict) answers the first's reply, as a later retry would.
  if (ctx.idempotency_key && std::holds_alternative<struct Problem>(outcome)) {
    if (auto stored = StoredReply(ctx)) return std::move(*stored);
  }
  return outcome;
}

std::optional<Outcome> Dispatcher::StoredReply(const Context& ctx) const {
  if (ctx.idempotency_scope.empty()) return std::nullopt;  // /v1/activate checks under its activation (activate.cc)
  return IdempotentReplay(ctx);
}

http::Response Dispatcher::Render(const Outcome& outcome, const http::Request& request) const {
  http::Response res;
  if (const auto* reply = std::get_if<Reply>(&outcome)) {
    res.status = reply->status;
    res.headers = reply->headers;
    if (reply->stream) {
      res.content_type = "application/x-ndjson";
      res.stream = reply->stream;
    } else if (reply->body.is_null()) {
      res.content_type.clear();
    } else {
      res.body = reply->body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    return res;
  }
  struct Problem p = std::get<struct Problem>(outcome);
  counters_.by_problem[static_cast<size_t>(p.type)].fetch_add(1, std::memory_order_relaxed);
  res.status = p.status();
  res.content_type = "application/problem+json";
  switch (p.type) {
    case ProblemType::kUnauthenticated: res.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"strait\""); break;
    case ProblemType::kMethodNotAllowed:
      res.headers.emplace_back("Allow", p.extensions.value("allow", ""));
      p.extensions.erase("allow");
      break;
    case ProblemType::kRateLimited:
    case ProblemType::kOverloaded:
    case ProblemType::kTooManySubscribers:
    case ProblemType::kStoreBusy: res.headers.emplace_back("Retry-After", "1"); break;
    case ProblemType::kRenewTooSoon:
      // The handler knows when the subject may renew again (renew.cc); the body need not say it twice.
      res.headers.emplace_back("Retry-After", std::to_string(p.extensions.value("retry_after", int64_t{1})));
      p.extensions.erase("retry_after");
      break;
    default: break;
  }
  p.extensions.erase("store_error");
  res.body = RenderProblem(p, request.path, request.request_id);
  return res;
}

http::Response Dispatcher::Problem(http::ServerProblem problem, const http::Request& request, size_t limit) const {
  struct Problem p;
  switch (problem) {
    case http::ServerProblem::kBodyTooLarge:
      p = MakeProblem(ProblemType::kBodyTooLarge, fmt::format("the body is larger than this route's {} bytes", limit));
      p.extensions["max"] = limit;
      break;
    case http::ServerProblem::kHeadersTooLarge: {
      // 431 has no problem type of its own (§8: Beast's status); the body still says why.
      http::Response res;
      res.status = 431;
      res.content_type = "application/problem+json";
      nlohmann::json j = {{"type", "about:blank"},
                          {"title", "Request Header Fields Too Large"},
                          {"status", 431},
                          {"detail", "the headers pass 8 KiB or 64 fields"},
                          {"instance", request.path},
                          {"request_id", request.request_id}};
      res.body = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      CountAnswer(RouteOf(request.method, request.path), res.status);
      return res;
    }
    case http::ServerProblem::kRequestTimeout:
      p = MakeProblem(ProblemType::kRequestTimeout, "the request did not arrive in time");
      break;
    case http::ServerProblem::kOverloaded:
      p = MakeProblem(ProblemType::kOverloaded, "the server is at its request bound; retry shortly");
      break;
    case http::ServerProblem::kInternal:
      counters_.internal++;
      if (log_) log_(fmt::format("request_id={} internal error: the handler threw", request.request_id));
      p = MakeProblem(ProblemType::kInternal, "an internal error; the request id is in the log");
      break;
  }
  http::Response res = Render(p, request);
  CountAnswer(RouteOf(request.method, request.path), res.status);
  return res;
}

size_t Dispatcher::RouteOf(std::string_view method, std::string_view path) const {
  auto m = ParseMethod(method);
  if (!m) return routes_.size();
  RouteMatch match = router_.Match(*m, path);
  return match.kind == RouteMatch::Kind::kFound ? match.route : routes_.size();
}

}  // namespace strait::control
