// keystore_fuzzer: arbitrary text as every armoured file type of crypto/keystore.h.
// Properties: DetectArmorType and every Decode* never crash or read out of bounds; whatever decodes re-encodes
// to exactly the input text (the format is canonical: one file form per value); at most one type accepts a text,
// and only the type its BEGIN line names. The same bytes armoured as a credential or TenantCert decode back iff
// they parse. Seeds (fuzz/corpus/keystore/) are files written by `strait keys` with throwaway keys.
#include <cstdint>
#include <cstdlib>
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

// Decodes `text` as `type` and, on success, re-encodes it. Returns whether it decoded.
bool RoundTrip(ArmorType type, std::string_view text) {
  switch (type) {
    case ArmorType::kEd25519SecretKey: {
      auto k = DecodeEd25519SecretKey(text);
      if (k) Check(EncodeEd25519SecretKey(*k).view() == text);
      return k.ok();
    }
    case ArmorType::kEd25519PublicKey: {
      auto k = DecodeEd25519PublicKey(text);
      if (k) Check(EncodeEd25519PublicKey(*k) == text);
      return k.ok();
    }
    case ArmorType::kX25519SecretKey: {
      auto k = DecodeX25519SecretKey(text);
      if (k) Check(EncodeX25519SecretKey(*k).view() == text);
      return k.ok();
    }
    case ArmorType::kX25519PublicKey: {
      auto k = DecodeX25519PublicKey(text);
      if (k) Check(EncodeX25519PublicKey(*k) == text);
      return k.ok();
    }
    case ArmorType::kTenantCert: {
      auto b = DecodeTenantCert(text);
      if (b) Check(EncodeTenantCert(*b) == text);
      return b.ok();
    }
    case ArmorType::kCredential: {
      auto b = DecodeCredential(text);
      if (b) Check(EncodeCredential(*b) == text);
      return b.ok();
    }
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto detected = DetectArmorType(text);
  int accepted = 0;
  for (ArmorType t : kAllArmorTypes) {
    if (RoundTrip(t, text)) {
      ++accepted;
      Check(detected.ok() && *detected == t);
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
