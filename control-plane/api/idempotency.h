// Idempotency-Key (docs/control-plane.md §4.5): the header's syntax, the request fingerprint, and what to do
// with a request given the record stored under (scope, key). The store holds the records, written in the same
// transaction as the change; this file decides, and does no I/O.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace strait::control {

inline constexpr size_t kMaxIdempotencyKeyBytes = 255;
// Records older than this are purged by the maintenance thread; until then they count as absent.
inline constexpr std::chrono::seconds kIdempotencyRetention = std::chrono::hours(24);

// 1..255 bytes of printable ASCII (0x20..0x7E). Anything else is 400 invalid-idempotency-key.
bool IsValidIdempotencyKey(std::string_view key);

using Fingerprint = std::array<uint8_t, 32>;

// SHA-256 over the method, the request path and the raw body, each length-prefixed (u64, big-endian) so fields
// cannot run together: ("POST", "/v1/ab", "c") and ("POST", "/v1/a", "bc") differ.
Fingerprint RequestFingerprint(std::string_view method, std::string_view path, std::string_view body);

// What the store returns for (scope, key); only 2xx answers are stored.
struct IdempotencyRecord {
  Fingerprint fingerprint{};
  uint16_t status = 0;
  std::chrono::sys_seconds created_at{};
};

enum class IdempotencyDecision : uint8_t {
  kNew,       // run the request, store the record with the change
  kReplay,    // answer the stored status and body again, with Idempotency-Replayed: true
  kMismatch,  // 422 idempotency-key-reused
};

// `stored` is the record under (scope, key), if any. A record past kIdempotencyRetention at `now` is treated as
// absent (the purge may not have run yet). The fingerprint comparison is constant time.
IdempotencyDecision DecideIdempotency(const std::optional<IdempotencyRecord>& stored, const Fingerprint& request,
                                      std::chrono::sys_seconds now);

}  // namespace strait::control
