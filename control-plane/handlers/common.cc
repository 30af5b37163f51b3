#include "control-plane/handlers/common.h"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "control-plane/api/formats.h"
#include "control-plane/api/idempotency.h"

namespace strait::control {

Problem StoreProblem(const store::StoreError& error) {
  switch (error.code) {
    case store::StoreErrorCode::kConflict: {
      Problem p = MakeProblem(ProblemType::kConflict, fmt::format("{} is taken or in use", error.field));
      p.extensions["field"] = error.field;
      return p;
    }
    case store::StoreErrorCode::kLimit: {
      Problem p = MakeProblem(ProblemType::kLimitExceeded,
                              fmt::format("the limit of {} {} is reached", error.max, error.field));
      p.extensions["limit"] = error.field;
      p.extensions["max"] = error.max;
      return p;
    }
    case store::StoreErrorCode::kBusy:
      return MakeProblem(ProblemType::kStoreBusy, "the store is busy; retry shortly");
    case store::StoreErrorCode::kCorrupt:
    case store::StoreErrorCode::kIo:
      break;
  }
  Problem p = MakeProblem(ProblemType::kInternal, "a store error; the request id is in the log");
  p.extensions["store_error"] = std::string(store::ToString(error.code));  // the dispatcher logs error.reason
  return p;
}

Problem NotFound(std::string_view what) { return MakeProblem(ProblemType::kNotFound, std::string(what)); }
Problem Forbidden(std::string detail) { return MakeProblem(ProblemType::kForbidden, std::move(detail)); }
Problem Conflict(std::string detail, std::string_view field) {
  Problem p = MakeProblem(ProblemType::kConflict, std::move(detail));
  p.extensions["field"] = std::string(field);
  return p;
}

store::StoreResult<store::AuditId> AppendAudit(const Context& ctx, store::WriteTx& tx, std::string_view action,
                                               std::string_view resource_type, std::string_view resource_id,
                                               const nlohmann::json& detail) {
  store::AuditRecord r;
  r.at = ctx.now;
  if (ctx.scope) r.tenant = ctx.scope->tenant();
  switch (ctx.principal.kind) {
    case PrincipalKind::kOperator:
    case PrincipalKind::kAdmin:
    case PrincipalKind::kReadOnly: r.actor_kind = store::ActorKind::kApiKey; break;
    case PrincipalKind::kDevice: r.actor_kind = store::ActorKind::kDevice; break;
    case PrincipalKind::kConnector: r.actor_kind = store::ActorKind::kConnector; break;
    case PrincipalKind::kRelay: r.actor_kind = store::ActorKind::kRelay; break;
    case PrincipalKind::kNone: r.actor_kind = store::ActorKind::kActivation; break;
  }
  r.actor_id = ctx.principal.kind == PrincipalKind::kNone ? ctx.idempotency_scope : ctx.principal.id;
  r.action = std::string(action);
  r.resource_type = std::string(resource_type);
  r.resource_id = std::string(resource_id);
  r.request_id = ctx.request.request_id;
  r.detail = detail.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (r.detail.size() > store::kMaxAuditDetail) {
    nlohmann::json cut = nlohmann::json::object();
    cut["truncated"] = true;
    r.detail = cut.dump();
  }
  return tx.AppendAudit(r);
}

Outcome CommitReply(Context& ctx, store::WriteTx& tx, Reply reply) {
  if (ctx.idempotency_key && reply.status >= 200 && reply.status < 300) {
    Fingerprint fp = RequestFingerprint(ctx.request.method, ctx.request.path, ctx.fingerprint_body.value_or(ctx.request.body));
    std::string text = reply.body.is_null() ? std::string()
                                            : reply.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    store::IdempotencyRecord rec;
    rec.scope = ctx.idempotency_scope;
    rec.key = *ctx.idempotency_key;
    rec.fingerprint.assign(fp.begin(), fp.end());
    rec.status = static_cast<int>(reply.status);
    rec.response_sealed = ctx.services.sealer->Seal(
        store::SealContext::kIdempotentReply, store::IdempotentReplyOwner(rec.scope, rec.key),
        std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
    rec.created_at = ctx.now;
    // Another request with this key that committed first makes this a conflict; the dispatcher then answers that
    // request's reply (Dispatcher::StoredReply).
    auto put = tx.PutIdempotency(rec);
    if (!put) return StoreProblem(put.error());
  }
  auto committed = tx.Commit();
  if (!committed) return StoreProblem(committed.error());
  return reply;
}

std::optional<Outcome> IdempotentReplay(const Context& ctx) {
  if (!ctx.idempotency_key) return std::nullopt;
  auto read = ctx.services.store->Read();
  if (!read) return StoreProblem(read.error());
  auto stored = (*read)->GetIdempotency(ctx.idempotency_scope, *ctx.idempotency_key);
  if (!stored) return StoreProblem(stored.error());
  if (!*stored) return std::nullopt;
  IdempotencyRecord rec;
  std::copy_n((*stored)->fingerprint.begin(), std::min<size_t>(rec.fingerprint.size(), (*stored)->fingerprint.size()),
              rec.fingerprint.begin());
  rec.status = static_cast<uint16_t>((*stored)->status);
  rec.created_at = std::chrono::sys_seconds(std::chrono::seconds((*stored)->created_at));
  const Fingerprint fp = RequestFingerprint(ctx.request.method, ctx.request.path, ctx.fingerprint_body.value_or(ctx.request.body));
  switch (DecideIdempotency(rec, fp, std::chrono::sys_seconds(std::chrono::seconds(ctx.now)))) {
    case IdempotencyDecision::kNew: return std::nullopt;
    case IdempotencyDecision::kMismatch:
      return MakeProblem(ProblemType::kIdempotencyKeyReused, "this Idempotency-Key was used with another request");
    case IdempotencyDecision::kReplay: break;
  }
  auto opened = ctx.services.sealer->Open(store::SealContext::kIdempotentReply,
                                        store::IdempotentReplyOwner(ctx.idempotency_scope, *ctx.idempotency_key),
                                        (*stored)->response_sealed);
  if (!opened) return MakeProblem(ProblemType::kInternal, "a stored reply does not open");
  Reply r;
  r.status = rec.status;
  std::string_view text(reinterpret_cast<const char*>(opened->data()), opened->size());
  if (!text.empty()) r.body = nlohmann::json::parse(text, nullptr, false);
  r.headers.emplace_back("Idempotency-Replayed", "true");
  return r;
}

std::variant<PageArgs, Problem> ReadPaging(const Context& ctx, CursorList list,
                                           std::span<const std::string_view> scope_parts) {
  PageArgs args;
  args.scope = ScopeHash(scope_parts);
  if (auto limit = ctx.query.Get("limit")) {
    uint32_t v = 0;
    bool ok = !limit->empty() && limit->size() <= 3;
    for (char c : *limit) ok = ok && c >= '0' && c <= '9', v = v * 10 + static_cast<uint32_t>(c - '0');
    if (!ok || v < 1 || v > kMaxPageLimit) {
      return InvalidRequest({FieldError{"/limit", FieldErrorCode::kOutOfRange,
                                        fmt::format("limit must be an integer in 1..{}", kMaxPageLimit)}},
                            1);
    }
    args.limit = v;
  }
  if (auto cursor = ctx.query.Get("cursor")) {
    auto key = DecodeCursor(*ctx.services.cursor_key, list, args.scope, *cursor);
    if (!key) {
      return MakeProblem(ProblemType::kInvalidCursor,
                         fmt::format("the cursor is not valid for this list ({})", CursorErrorName(key.error())));
    }
    args.after = std::move(*key);
  }
  return args;
}

nlohmann::json PageJson(const Context& ctx, CursorList list, const PageArgs& args, nlohmann::json items, bool more,
                        std::span<const uint8_t> last_key) {
  nlohmann::json out = nlohmann::json::object();
  out["items"] = std::move(items);
  out["next_cursor"] =
      more ? nlohmann::json(EncodeCursor(*ctx.services.cursor_key, list, args.scope, last_key)) : nlohmann::json();
  return out;
}

std::vector<uint8_t> KeyBytes(std::string_view id) { return {id.begin(), id.end()}; }

std::vector<uint8_t> KeyBytes(int64_t id) {
  std::vector<uint8_t> out(8);
  auto v = static_cast<uint64_t>(id);
  for (int i = 7; i >= 0; --i, v >>= 8) out[static_cast<size_t>(i)] = static_cast<uint8_t>(v);
  return out;
}

std::optional<int64_t> KeyInt(std::span<const uint8_t> key) {
  if (key.size() != 8) return std::nullopt;
  uint64_t v = 0;
  for (uint8_t b : key) v = v << 8 | b;
  if (v > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  return static_cast<int64_t>(v);
}

std::optional<Problem> RejectUnknownQuery(const Context& ctx, std::initializer_list<std::string_view> allowed) {
  auto unknown = ctx.query.FirstUnknown(std::span(allowed.begin(), allowed.size()));
  if (!unknown) return std::nullopt;
  std::string expected;
  for (std::string_view a : allowed) expected += (expected.empty() ? "" : ", ") + std::string(a);
  return InvalidRequest({FieldError{"/" + EscapePointerToken(*unknown), FieldErrorCode::kUnknownField,
                                    fmt::format("unknown query parameter (expected {})", expected)}},
                        1);
}

nlohmann::json TimeJson(int64_t t) { return FormatTime(Seconds(std::chrono::seconds(t))); }
nlohmann::json TimeJson(const std::optional<int64_t>& t) { return t ? TimeJson(*t) : nlohmann::json(); }
nlohmann::json BytesJson(std::span<const uint8_t> b) { return EncodeBase64(b); }

}  // namespace strait::control
