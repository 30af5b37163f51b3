// The operator root's PEM files through OpenSSL 3 (control-plane/pki/key_pem.h): the bytes `strait keys init-root`
// writes (this file's known answer was written by `openssl genpkey -algorithm ed25519`), round trips, and refusals.
#include "control-plane/pki/key_pem.h"

#include <gtest/gtest.h>

namespace strait::control::pki {
namespace {

// RFC 8032 §7.1 test 1: seed 9d61b19d..., public key d75a9801... ; the PEM forms are what `openssl pkey` writes.
constexpr char kPrivatePem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
    "-----END PRIVATE KEY-----\n";
constexpr char kPublicPem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
    "-----END PUBLIC KEY-----\n";

TEST(KeyPemTest, Rfc8032KeyDecodesAndEncodesToTheSameBytes) {
  auto seed = DecodeEd25519PrivatePem(kPrivatePem);
  ASSERT_TRUE(seed.ok()) << seed.error().reason;
  EXPECT_EQ((*seed)[0], 0x9d);
  EXPECT_EQ((*seed)[31], 0x60);
  EXPECT_EQ(*EncodeEd25519PrivatePem(*seed), kPrivatePem);
  auto pub = DecodeEd25519PublicPem(kPublicPem);
  ASSERT_TRUE(pub.ok()) << pub.error().reason;
  EXPECT_EQ((*pub)[0], 0xd7);
  EXPECT_EQ(*EncodeEd25519PublicPem(*pub), kPublicPem);
}

TEST(KeyPemTest, NonCanonicalAndWrongTypesAreRefused) {
  std::string crlf = kPrivatePem;
  for (size_t i = crlf.find('\n'); i != std::string::npos; i = crlf.find('\n', i + 2)) crlf.insert(i, "\r");
  auto r = DecodeEd25519PrivatePem(crlf);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, KeyPemError::kNotCanonical);
  // append, not operator+: g++ 12 warns falsely (-Warray-bounds) on `std::string(x) + "..."` at -O2.
  EXPECT_EQ(DecodeEd25519PrivatePem(std::string(kPrivatePem).append("\n")).error().code, KeyPemError::kNotCanonical);
  EXPECT_EQ(DecodeEd25519PrivatePem(kPublicPem).error().code, KeyPemError::kWrongType);
  EXPECT_EQ(DecodeEd25519PublicPem(kPrivatePem).error().code, KeyPemError::kWrongType);
  EXPECT_EQ(DecodeEd25519PrivatePem("hello").error().code, KeyPemError::kNotPem);
  // An X25519 key (RFC 8410 example) in a PRIVATE KEY block.
  constexpr char kX25519[] =
      "-----BEGIN PRIVATE KEY-----\n"
      "MC4CAQAwBQYDK2VuBCIEINAOV4lQ+AWzk5xkbkIuRCDVy6hNszQqUYs2SUh0b10p\n"
      "-----END PRIVATE KEY-----\n";
  EXPECT_EQ(DecodeEd25519PrivatePem(kX25519).error().code, KeyPemError::kWrongType);
}

}  // namespace
}  // namespace strait::control::pki
