// libsodium secretbox, KDF and keyed BLAKE2b for the store's secrets (sealed.h has the formats).
#include "control-plane/store/sealed.h"

#include <sodium.h>

#include <array>
#include <cassert>
#include <cstring>

namespace strait::control::store {
namespace {

constexpr char kKdfContext[crypto_kdf_CONTEXTBYTES + 1] = "straitcp";
static_assert(sizeof(kKdfContext) - 1 == crypto_kdf_CONTEXTBYTES);
static_assert(kMasterKeySize == crypto_kdf_KEYBYTES);
static_assert(kSubkeySize == crypto_secretbox_KEYBYTES);
static_assert(kSealHeaderSize == 2 + crypto_secretbox_NONCEBYTES);
static_assert(kSealOverhead == kSealHeaderSize + crypto_secretbox_MACBYTES);
static_assert(kApiKeyHashSize == crypto_generichash_BYTES);

void InitSodium() {
  // Idempotent and thread-safe; -1 means the library cannot work at all.
  [[maybe_unused]] const int rc = sodium_init();
  assert(rc >= 0);
}

std::string_view ContextString(SealContext c) {
  switch (c) {
    case SealContext::kTenantKey:
      return "strait/tenant-key/1";
    case SealContext::kActivationKey:
      return "strait/activation-key-sealed/1";
    case SealContext::kIdempotentReply:
      return "strait/idempotent-reply/1";
  }
  return "";
}

}  // namespace

std::string_view ToString(SealError e) {
  switch (e) {
    case SealError::kBadKeyText:
      return "bad_key_text";
    case SealError::kMalformed:
      return "malformed";
    case SealError::kWrongVersion:
      return "wrong_version";
    case SealError::kUnknownKey:
      return "unknown_key";
    case SealError::kForged:
      return "forged";
    case SealError::kWrongContext:
      return "wrong_context";
    case SealError::kWrongOwner:
      return "wrong_owner";
  }
  return "unknown";
}

// ---- SecretBytes ----

SecretBytes::SecretBytes(size_t size) : data_(new uint8_t[size]()), size_(size) {}

SecretBytes::SecretBytes(const uint8_t* data, size_t size) : data_(new uint8_t[size]), size_(size) {
  if (size > 0) std::memcpy(data_.get(), data, size);
}

SecretBytes::~SecretBytes() { Wipe(); }

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(std::move(other.data_)), size_(std::exchange(other.size_, 0)) {}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    Wipe();
    data_ = std::move(other.data_);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void SecretBytes::Wipe() {
  if (data_) sodium_memzero(data_.get(), size_);
  data_.reset();
  size_ = 0;
}

bool SecretBytes::Equals(std::span<const uint8_t> other) const {
  if (other.size() != size_) return false;
  if (size_ == 0) return true;
  return sodium_memcmp(data_.get(), other.data(), size_) == 0;
}

// ---- MasterKey ----

SealResult<MasterKey> MasterKey::FromText(std::string_view text) {
  InitSodium();
  if (text.size() == kMasterKeySize * 2 + 1 && text.back() == '\n') text.remove_suffix(1);
  if (text.size() != kMasterKeySize * 2) return Fail(SealError::kBadKeyText);
  for (char c : text) {
    // Lower case only: the file's one spelling (init writes it so); anything else was edited or is not ours.
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return Fail(SealError::kBadKeyText);
  }
  SecretBytes key(kMasterKeySize);
  size_t len = 0;
  if (sodium_hex2bin(key.data(), key.size(), text.data(), text.size(), nullptr, &len, nullptr) != 0 ||
      len != kMasterKeySize) {
    return Fail(SealError::kBadKeyText);
  }
  return MasterKey(std::move(key));
}

MasterKey MasterKey::Generate() {
  InitSodium();
  SecretBytes key(kMasterKeySize);
  crypto_kdf_keygen(key.data());
  return MasterKey(std::move(key));
}

SecretBytes MasterKey::ToText() const {
  SecretBytes text(kMasterKeySize * 2 + 2);  // hex, LF, and sodium_bin2hex's NUL
  sodium_bin2hex(reinterpret_cast<char*>(text.data()), kMasterKeySize * 2 + 1, key_.data(), key_.size());
  text.data()[kMasterKeySize * 2] = '\n';
  return SecretBytes(text.data(), kMasterKeySize * 2 + 1);
}

SecretBytes MasterKey::Derive(Subkey id) const {
  SecretBytes sub(kSubkeySize);
  crypto_kdf_derive_from_key(sub.data(), sub.size(), static_cast<uint64_t>(id), kKdfContext, key_.data());
  return sub;
}

// ---- Sealer ----

Sealer::Sealer(const MasterKey& master)
    : tenant_keys_(master.Derive(Subkey::kTenantKeys)), activation_(master.Derive(Subkey::kActivationAndReplies)) {}

std::vector<uint8_t> Sealer::Seal(SealContext context, std::string_view owner,
                                  std::span<const uint8_t> secret) const {
  assert(owner.find('\0') == std::string_view::npos);
  const std::string_view ctx = ContextString(context);
  // plaintext = context || 0x00 || owner || 0x00 || secret (§5.3)
  SecretBytes plain(ctx.size() + 1 + owner.size() + 1 + secret.size());
  uint8_t* p = plain.data();
  std::memcpy(p, ctx.data(), ctx.size());
  p += ctx.size();
  *p++ = 0;
  if (!owner.empty()) std::memcpy(p, owner.data(), owner.size());
  p += owner.size();
  *p++ = 0;
  if (!secret.empty()) std::memcpy(p, secret.data(), secret.size());

  std::vector<uint8_t> out(kSealOverhead + plain.size());
  out[0] = kSealVersion;
  out[1] = kSealKeyId;
  randombytes_buf(out.data() + 2, crypto_secretbox_NONCEBYTES);
  const SecretBytes& key = context == SealContext::kTenantKey ? tenant_keys_ : activation_;
  crypto_secretbox_easy(out.data() + kSealHeaderSize, plain.data(), plain.size(), out.data() + 2, key.data());
  return out;
}

SealResult<SecretBytes> Sealer::Open(SealContext context, std::string_view owner,
                                     std::span<const uint8_t> sealed) const {
  if (sealed.size() < kSealOverhead) return Fail(SealError::kMalformed);
  if (sealed[0] != kSealVersion) return Fail(SealError::kWrongVersion);
  if (sealed[1] != kSealKeyId) return Fail(SealError::kUnknownKey);
  const SecretBytes& key = context == SealContext::kTenantKey ? tenant_keys_ : activation_;
  SecretBytes plain(sealed.size() - kSealOverhead);
  if (crypto_secretbox_open_easy(plain.data(), sealed.data() + kSealHeaderSize, sealed.size() - kSealHeaderSize,
                                 sealed.data() + 2, key.data()) != 0) {
    return Fail(SealError::kForged);
  }
  const std::string_view text(reinterpret_cast<const char*>(plain.data()), plain.size());
  const std::string_view ctx = ContextString(context);
  if (text.size() < ctx.size() + 1 || text.substr(0, ctx.size()) != ctx || text[ctx.size()] != '\0') {
    return Fail(SealError::kWrongContext);
  }
  const std::string_view rest = text.substr(ctx.size() + 1);
  if (rest.size() < owner.size() + 1 || rest.substr(0, owner.size()) != owner || rest[owner.size()] != '\0') {
    return Fail(SealError::kWrongOwner);
  }
  const size_t offset = ctx.size() + 1 + owner.size() + 1;
  return SecretBytes(plain.data() + offset, plain.size() - offset);
}

// ---- ApiKeyHasher ----

ApiKeyHasher::ApiKeyHasher(const MasterKey& master) : key_(master.Derive(Subkey::kApiKeyHash)) {}

std::vector<uint8_t> ApiKeyHasher::Hash(std::string_view secret) const {
  std::vector<uint8_t> out(kApiKeyHashSize);
  crypto_generichash(out.data(), out.size(), reinterpret_cast<const uint8_t*>(secret.data()), secret.size(),
                     key_.data(), key_.size());
  return out;
}

bool ApiKeyHasher::Matches(std::string_view secret, std::span<const uint8_t> stored) const {
  if (stored.size() != kApiKeyHashSize) return false;
  const std::vector<uint8_t> h = Hash(secret);
  return sodium_memcmp(h.data(), stored.data(), kApiKeyHashSize) == 0;
}

}  // namespace strait::control::store
