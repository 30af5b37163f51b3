#include "control-plane/api/idempotency.h"

#include <string>

#include <gtest/gtest.h>

namespace strait::control {
namespace {

using std::chrono::hours;
using std::chrono::seconds;
using std::chrono::sys_seconds;

TEST(Idempotency, KeySyntax) {
  EXPECT_TRUE(IsValidIdempotencyKey("a"));
  EXPECT_TRUE(IsValidIdempotencyKey("9f1c2b3a-0000-4000-8000-000000000000"));
  EXPECT_TRUE(IsValidIdempotencyKey("with space ~!"));
  EXPECT_TRUE(IsValidIdempotencyKey(std::string(255, 'k')));
  EXPECT_FALSE(IsValidIdempotencyKey(std::string(256, 'k')));
  EXPECT_FALSE(IsValidIdempotencyKey(""));
  for (std::string bad : {std::string("a\tb"), std::string("a\nb"), std::string("\x7f"), std::string("\xc3\xa9"),
                          std::string(1, '\0')}) {
    EXPECT_FALSE(IsValidIdempotencyKey(bad)) << bad;
  }
}

TEST(Idempotency, FingerprintCoversEachFieldSeparately) {
  Fingerprint base = RequestFingerprint("POST", "/v1/tenants/acme/users", R"({"email":"a@b"})");
  EXPECT_EQ(base, RequestFingerprint("POST", "/v1/tenants/acme/users", R"({"email":"a@b"})"));
  EXPECT_NE(base, RequestFingerprint("PUT", "/v1/tenants/acme/users", R"({"email":"a@b"})"));
  EXPECT_NE(base, RequestFingerprint("POST", "/v1/tenants/beta/users", R"({"email":"a@b"})"));
  EXPECT_NE(base, RequestFingerprint("POST", "/v1/tenants/acme/users", R"({"email":"a@c"})"));
  EXPECT_NE(base, RequestFingerprint("POST", "/v1/tenants/acme/users", R"({"email":"a@b"} )"));
  EXPECT_NE(RequestFingerprint("POST", "/v1/ab", "c"), RequestFingerprint("POST", "/v1/a", "bc"));
  EXPECT_NE(RequestFingerprint("POS", "T/v1", ""), RequestFingerprint("POST", "/v1", ""));
}

TEST(Idempotency, Decision) {
  sys_seconds now(seconds(1'750'000'000));
  Fingerprint f = RequestFingerprint("POST", "/v1/x", "{}");
  Fingerprint other = RequestFingerprint("POST", "/v1/x", "{ }");
  EXPECT_EQ(DecideIdempotency(std::nullopt, f, now), IdempotencyDecision::kNew);
  IdempotencyRecord rec{f, 201, now - hours(1)};
  EXPECT_EQ(DecideIdempotency(rec, f, now), IdempotencyDecision::kReplay);
  EXPECT_EQ(DecideIdempotency(rec, other, now), IdempotencyDecision::kMismatch);
  // At and past the retention the record counts as absent; just before, it still holds.
  rec.created_at = now - hours(24) + seconds(1);
  EXPECT_EQ(DecideIdempotency(rec, other, now), IdempotencyDecision::kMismatch);
  rec.created_at = now - hours(24);
  EXPECT_EQ(DecideIdempotency(rec, other, now), IdempotencyDecision::kNew);
  EXPECT_EQ(DecideIdempotency(rec, f, now), IdempotencyDecision::kNew);
}

}  // namespace
}  // namespace strait::control
