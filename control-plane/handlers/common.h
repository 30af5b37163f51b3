// What handlers share (docs/control-plane.md §4): store errors as problems, audit records, committing a change
// with its idempotency record, paging, and the JSON forms of times and bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "control-plane/handlers/context.h"

namespace strait::control {

// kConflict -> 409 conflict {field}; kLimit -> 409 limit-exceeded {limit, max}; kBusy -> 503 store-busy;
// kCorrupt and kIo -> 500 internal (the reason is logged by the dispatcher, never sent).
Problem StoreProblem(const store::StoreError& error);
Problem NotFound(std::string_view what = "no such resource");
Problem Forbidden(std::string detail);
Problem Conflict(std::string detail, std::string_view field);

// Unwraps a StoreResult in a handler, or returns its problem.
#define STRAIT_STORE_TRY(expr)                                        \
  do {                                                                \
    auto strait_store_try_r = (expr);                                 \
    if (!strait_store_try_r) return StoreProblem(strait_store_try_r.error()); \
  } while (0)
#define STRAIT_STORE_CONCAT_(a, b) a##b
#define STRAIT_STORE_CONCAT(a, b) STRAIT_STORE_CONCAT_(a, b)
#define STRAIT_STORE_ASSIGN(lhs, expr) STRAIT_STORE_ASSIGN_(STRAIT_STORE_CONCAT(strait_store_r_, __LINE__), lhs, expr)
#define STRAIT_STORE_ASSIGN_(tmp, lhs, expr)           \
  auto tmp = (expr);                                   \
  if (!tmp) return StoreProblem(tmp.error());          \
  lhs = std::move(*tmp)

// One audit record for the change this request makes, in its write transaction (§4.6). `detail` is the changed
// fields (never secrets); it is cut to its first members if it would pass 4 KiB.
store::StoreResult<store::AuditId> AppendAudit(const Context& ctx, store::WriteTx& tx, std::string_view action,
                                               std::string_view resource_type, std::string_view resource_id,
                                               const nlohmann::json& detail = nlohmann::json::object());

// Commits `tx` with the request's idempotency record (a 2xx reply of a POST with Idempotency-Key, §4.5) and returns
// the reply, or the problem. Two requests with one key at once: the second fails (on the first's change, or on its
// record) and the dispatcher answers it with the first's reply.
Outcome CommitReply(Context& ctx, store::WriteTx& tx, Reply reply);

// The reply stored under (ctx.idempotency_scope, ctx.idempotency_key): a replay (with `Idempotency-Replayed: true`),
// 422 idempotency-key-reused for another request under the same key, or nullopt (none stored, or no key).
std::optional<Outcome> IdempotentReplay(const Context& ctx);

// Paging (§4.4): `?limit=` (1..500, default 50) and `?cursor=`, checked against the list and its scope.
struct PageArgs {
  size_t limit = kDefaultPageLimit;
  std::vector<uint8_t> after;  // the last key of the previous page; empty: from the start
  CursorScope scope{};
  std::string after_text() const { return std::string(after.begin(), after.end()); }
};
std::variant<PageArgs, Problem> ReadPaging(const Context& ctx, CursorList list,
                                           std::span<const std::string_view> scope_parts);
// {"items": items, "next_cursor": cursor after `last_key` or null}.
nlohmann::json PageJson(const Context& ctx, CursorList list, const PageArgs& args, nlohmann::json items, bool more,
                        std::span<const uint8_t> last_key);
std::vector<uint8_t> KeyBytes(std::string_view id);
std::vector<uint8_t> KeyBytes(int64_t id);  // big-endian u64
std::optional<int64_t> KeyInt(std::span<const uint8_t> key);

// Refuses query parameters a route does not read (like unknown body fields).
std::optional<Problem> RejectUnknownQuery(const Context& ctx, std::initializer_list<std::string_view> allowed);

nlohmann::json TimeJson(int64_t t);                       // RFC 3339 string
nlohmann::json TimeJson(const std::optional<int64_t>& t);  // or null
nlohmann::json BytesJson(std::span<const uint8_t> b);      // standard base64

}  // namespace strait::control
