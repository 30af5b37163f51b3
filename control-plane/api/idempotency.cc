#include "control-plane/api/idempotency.h"

#include <sodium.h>

namespace strait::control {
namespace {

void UpdateField(crypto_hash_sha256_state* st, std::string_view field) {
  std::array<uint8_t, 8> len{};
  uint64_t n = field.size();
  for (size_t i = 0; i < len.size(); ++i) len[i] = static_cast<uint8_t>(n >> (56 - 8 * i));
  crypto_hash_sha256_update(st, len.data(), len.size());
  crypto_hash_sha256_update(st, reinterpret_cast<const unsigned char*>(field.data()), field.size());
}

}  // namespace

bool IsValidIdempotencyKey(std::string_view key) {
  if (key.empty() || key.size() > kMaxIdempotencyKeyBytes) return false;
  for (char ch : key) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c > 0x7E) return false;
  }
  return true;
}

Fingerprint RequestFingerprint(std::string_view method, std::string_view path, std::string_view body) {
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  UpdateField(&st, method);
  UpdateField(&st, path);
  UpdateField(&st, body);
  Fingerprint out{};
  crypto_hash_sha256_final(&st, out.data());
  return out;
}

IdempotencyDecision DecideIdempotency(const std::optional<IdempotencyRecord>& stored, const Fingerprint& request,
                                      std::chrono::sys_seconds now) {
  if (!stored || now - stored->created_at >= kIdempotencyRetention) return IdempotencyDecision::kNew;
  if (sodium_memcmp(stored->fingerprint.data(), request.data(), request.size()) == 0) {
    return IdempotencyDecision::kReplay;
  }
  return IdempotencyDecision::kMismatch;
}

}  // namespace strait::control
