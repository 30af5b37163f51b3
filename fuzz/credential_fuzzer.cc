// credential_fuzzer: arbitrary bytes as a credential and as a TenantCert.
// Properties: ParseCredential / ParseTenantCert / VerifyCredential never crash or read out of bounds; whatever
// parses re-encodes to exactly the input bytes (round trip); whatever verifies also parses, with the same fields.
// Seeds (fuzz/corpus/credential/) are valid credentials of each role under the fixed root in
// credential_fuzz_keys.h, generated once by fuzz/corpus_gen/credential_corpus_gen.cc.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "crypto/credential.h"
#include "fuzz/credential_fuzz_keys.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strait::crypto;  // NOLINT(google-build-using-namespace): fuzzer entry point
  static const Ed25519PublicKey root = strait::fuzz::FuzzRootKey().public_key;
  const std::span<const uint8_t> in(data, size);

  auto tc = ParseTenantCert(in);
  if (tc.ok()) {
    const std::vector<uint8_t> again = SerializeTenantCert(*tc);
    Check(again.size() == size && std::equal(again.begin(), again.end(), in.begin()));
  }

  auto parsed = ParseCredential(in);
  if (parsed.ok()) {
    const std::vector<uint8_t> again = SerializeCredential(*parsed);
    Check(again.size() == size && std::equal(again.begin(), again.end(), in.begin()));
    if (parsed->tenant_cert) {
      const std::vector<uint8_t> tc_again = SerializeTenantCert(*parsed->tenant_cert);
      Check(std::equal(tc_again.begin(), tc_again.end(), parsed->tenant_cert_bytes.begin(),
                       parsed->tenant_cert_bytes.end()));
    }
  }

  for (uint64_t now : {strait::fuzz::kFuzzNow, uint64_t{0}, UINT64_MAX}) {
    auto v = VerifyCredential(in, root, now, {});
    if (v.ok()) {
      Check(parsed.ok());
      Check(v->role == parsed->role && v->subject_id == parsed->subject_id && v->serial == parsed->serial);
      Check(v->not_before <= now && now <= v->not_after);
    } else {
      Check(!v.error().reason.empty());
    }
  }
  return 0;
}
