// keystore_fuzzer: arbitrary text as every file type of crypto/keystore.h: PEM keys (PKCS#8, SubjectPublicKeyInfo),
// the older Strait-armoured keys, TenantCerts and credentials.
// Properties: DetectFileType and every Decode* never crash or read out of bounds; whatever decodes re-encodes to
// exactly the input text (the formats are canonical: one file form per value): a PEM key through Encode*, an
// older armoured key through Armor(); at most one type accepts a text, and only the type and form DetectFileType
// names. The same bytes armoured as a credential or TenantCert decode back iff they parse. Seeds
// (fuzz/corpus/keystore/) are files written by `strait keys` with throwaway keys (older armoured keys among them),
// keys written by `openssl genpkey` / `openssl pkey -pubout`, and a P-256 PKCS#8 key (a PEM of the wrong type).
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/credential.h"
#include "crypto/keystore.h"

namespace {

using namespace strait::crypto;  // NOLINT(google-build-using-namespace): fuzzer translation unit

void Check(bool ok) {
  if (!ok) std::abort();
}

// Re-encodes a decoded key in the form it came in: `pem` through Encode*, the older armour through Armor().
bool SameText(std::string_view text, FileForm form, std::string_view pem, ArmorType type,
              std::span<const uint8_t> raw) {
  return form == FileForm::kPem ? pem == text : Armor(type, raw) == text;
}

// Decodes `text` as `type` and, on success, re-encodes it. Returns whether it decoded. `form` is what
// DetectFileType said (nullopt if it refused the text, and then nothing may decode).
bool RoundTrip(ArmorType type, std::string_view text, std::optional<FileForm> form) {
  switch (type) {
    case ArmorType::kEd25519SecretKey: {
      auto k = DecodeEd25519SecretKey(text);
      if (k) Check(form && SameText(text, *form, EncodeEd25519SecretKey(*k).view(), type, k->seed.bytes()));
      return k.ok();
    }
    case ArmorType::kEd25519PublicKey: {
      auto k = DecodeEd25519PublicKey(text);
      if (k) Check(form && SameText(text, *form, EncodeEd25519PublicKey(*k), type, k->bytes()));
      return k.ok();
    }
    case ArmorType::kX25519SecretKey: {
      auto k = DecodeX25519SecretKey(text);
      if (k) Check(form && SameText(text, *form, EncodeX25519SecretKey(*k).view(), type, k->secret.bytes()));
      return k.ok();
    }
    case ArmorType::kX25519PublicKey: {
      auto k = DecodeX25519PublicKey(text);
      if (k) Check(form && SameText(text, *form, EncodeX25519PublicKey(*k), type, k->bytes()));
      return k.ok();
    }
    case ArmorType::kTenantCert: {
      auto b = DecodeTenantCert(text);
      if (b) Check(form == FileForm::kStraitArmour && EncodeTenantCert(*b) == text);
      return b.ok();
    }
    case ArmorType::kCredential: {
      auto b = DecodeCredential(text);
      if (b) Check(form == FileForm::kStraitArmour && EncodeCredential(*b) == text);
      return b.ok();
    }
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto detected = DetectFileType(text);
  const std::optional<FileForm> form = detected ? std::optional(detected->form) : std::nullopt;
  int accepted = 0;
  for (ArmorType t : kAllArmorTypes) {
    if (RoundTrip(t, text, form)) {
      ++accepted;
      Check(detected.ok() && detected->type == t);
    }
  }
  Check(accepted <= 1);

  // The raw input armoured as a credential / TenantCert: decodes back exactly iff the structure parses.
  const std::span<const uint8_t> raw(data, size);
  if (size > 0 && size <= kMaxCredentialSize) {
    auto c = DecodeCredential(EncodeCredential(raw));
    Check(c.ok() == ParseCredential(raw).ok());
    if (c) Check(std::vector<uint8_t>(raw.begin(), raw.end()) == *c);
    auto tc = DecodeTenantCert(EncodeTenantCert(raw));
    Check(tc.ok() == ParseTenantCert(raw).ok());
  }
  return 0;
}
