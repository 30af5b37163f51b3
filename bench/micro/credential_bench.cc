// Credential verification throughput (crypto/credential.h) against its floor: two bare Ed25519 verifies (the
// TenantCert's and the credential's) over messages of the same sizes, measured in the same run.
// Method: bench/README.md. Report: items/s medians of 5 repetitions and the ratio VerifyDevice / TwoBareVerifies.
#include <benchmark/benchmark.h>

#include <vector>

#include "crypto/credential.h"
#include "crypto/keys.h"

namespace strait::crypto {
namespace {

constexpr uint64_t kNow = 1'700'000'000;

struct Fixture {
  Ed25519KeyPair root = Ed25519KeyPair::Generate();
  Ed25519KeyPair tenant = Ed25519KeyPair::Generate();
  std::vector<uint8_t> tenant_cert;
  std::vector<uint8_t> device;
  std::vector<uint8_t> relay;

  Fixture() {
    tenant_cert = IssueTenantCert(root, {"acme", tenant.public_key, kNow - 1000, kNow + 1000}).value();
    device = IssueCredential(tenant, tenant_cert,
                             {Role::kDevice, "phone-1", Ed25519KeyPair::Generate().public_key,
                              X25519KeyPair::Generate().public_key, 1, kNow - 10, kNow + 10})
                 .value();
    relay = IssueRelayCredential(root, {Role::kRelay, "relay-1", Ed25519KeyPair::Generate().public_key, {}, 2,
                                        kNow - 10, kNow + 10})
                .value();
  }
};

const Fixture& F() {
  static const Fixture* f = new Fixture();
  return *f;
}

void BM_VerifyDeviceCredential(benchmark::State& state) {
  const Fixture& f = F();
  const VerifyOptions opts{{Role::kDevice}, "acme"};
  for (auto _ : state) {
    auto v = VerifyCredential(f.device, f.root.public_key, kNow, opts);
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VerifyDeviceCredential);

void BM_VerifyRelayCredential(benchmark::State& state) {
  const Fixture& f = F();
  for (auto _ : state) {
    auto v = VerifyCredential(f.relay, f.root.public_key, kNow, {});
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VerifyRelayCredential);

void BM_ParseCredential(benchmark::State& state) {
  const Fixture& f = F();
  for (auto _ : state) {
    auto v = ParseCredential(f.device);
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseCredential);

// The floor: the two signature checks a device credential needs, on messages of the same lengths
// (context || 0x00 || signed part), without parsing, message assembly or result building.
void BM_Baseline_TwoEd25519Verifies(benchmark::State& state) {
  const Fixture& f = F();
  const CredentialView v = ParseCredential(f.device).value();
  const TenantCertView& tc = *v.tenant_cert;
  auto msg = [](std::string_view ctx, std::span<const uint8_t> body) {
    std::vector<uint8_t> m(ctx.begin(), ctx.end());
    m.push_back(0);
    m.insert(m.end(), body.begin(), body.end());
    return m;
  };
  const std::vector<uint8_t> m1 = msg(kTenantCertContext, tc.signed_part);
  const std::vector<uint8_t> m2 = msg(kCredentialContext, v.signed_part);
  for (auto _ : state) {
    const bool a = Ed25519Verify(f.root.public_key, m1, tc.signature);
    const bool b = Ed25519Verify(tc.tenant_key, m2, v.signature);
    if (!a || !b) state.SkipWithError("baseline verify failed");
    benchmark::DoNotOptimize(a);
    benchmark::DoNotOptimize(b);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Baseline_TwoEd25519Verifies);

}  // namespace
}  // namespace strait::crypto
