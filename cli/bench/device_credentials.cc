#include "cli/bench/device_credentials.h"

#include <unistd.h>

#include <algorithm>
#include <ctime>

#include <fmt/format.h>

#include "crypto/credential.h"
#include "crypto/keystore.h"

namespace strait::cli::bench {
namespace {

constexpr std::uint32_t kCredentialHours = 4;
constexpr std::uint64_t kBackdateSeconds = 300;

}  // namespace

Result<std::unique_ptr<DeviceIssuer>, std::string> DeviceIssuer::Open(const std::string& dir) {
  std::unique_ptr<DeviceIssuer> d(new DeviceIssuer());
  auto tenant_key = crypto::LoadEd25519SecretKey(dir + "/tenant/tenant.key");
  if (!tenant_key) return Fail(fmt::format("tenant key: {}", tenant_key.error().reason));
  d->tenant_key_ = std::move(*tenant_key);
  auto tenant_cert = crypto::LoadTenantCert(dir + "/tenant/tenant.cert");
  if (!tenant_cert) return Fail(fmt::format("tenant cert: {}", tenant_cert.error().reason));
  d->tenant_cert_ = std::move(*tenant_cert);
  auto ca_pem = crypto::ReadPublicFile(dir + "/ca/ca.pem");
  if (!ca_pem) return Fail(fmt::format("TLS CA: {}", ca_pem.error().reason));
  auto tls = crypto::TlsContext::CreateClient({*ca_pem, "127.0.0.1"});
  if (!tls) return Fail(fmt::format("device TLS: {}", tls.error().reason));
  d->tls_ = std::make_unique<crypto::TlsContext>(std::move(*tls));
  auto root_pub = crypto::LoadEd25519PublicKey(dir + "/root/root.pub");
  if (!root_pub) return Fail(fmt::format("root.pub: {}", root_pub.error().reason));
  d->root_public_ = *root_pub;
  return d;
}

Result<std::vector<link::LinkConfig>, std::string> DeviceIssuer::Issue(std::uint32_t first,
                                                                        std::uint32_t count) const {
  // One Noise key for all: the bench's device links never open a session, and the relay does not look at it.
  const crypto::X25519PublicKey noise = crypto::X25519KeyPair::Generate().public_key;
  const auto now = static_cast<std::uint64_t>(std::time(nullptr));
  std::vector<link::LinkConfig> out;
  out.reserve(count);
  for (std::uint32_t i = first; i < first + count; ++i) {
    const std::string subject = fmt::format("bench-dev-{}", i);
    crypto::Ed25519KeyPair key = crypto::Ed25519KeyPair::Generate();
    auto cred = crypto::IssueCredential(*tenant_key_, tenant_cert_,
                                        {crypto::Role::kDevice, subject, key.public_key, noise, i + 1u,
                                         now - kBackdateSeconds, now + kCredentialHours * 3600ull});
    if (!cred) return Fail(fmt::format("device credential: {}", cred.error().reason));
    link::LinkConfig c;
    c.tls = tls_.get();
    c.client = link::ClientLoginConfig::Of(std::move(*cred), key, tunnel::LinkRole::kDevice);
    c.client.server_root = root_public_;  // checks the relay's credential, as a device does
    out.push_back(std::move(c));
  }
  return out;
}

std::uint32_t CountDeviceBundles(const std::string& identity, std::uint32_t max) {
  std::uint32_t n = 0;
  while (n < max && access(crypto::JoinPath(identity, fmt::format("dev-{}", n)).c_str(), F_OK) == 0) ++n;
  return n;
}

Result<void, std::string> LoadDeviceBundles(const std::string& identity, std::uint32_t bundles,
                                            const std::string& relay_host, std::uint32_t first, std::uint32_t count,
                                            DeviceBundles& out) {
  const std::uint32_t distinct = bundles == 0 ? 1 : std::min(bundles, count);
  for (std::uint32_t j = 0; j < distinct; ++j) {
    const std::string d =
        bundles == 0 ? identity : crypto::JoinPath(identity, fmt::format("dev-{}", (first + j) % bundles));
    auto b = crypto::LoadIdentityBundle(d);
    if (!b) return Fail(fmt::format("--identity {}: {}", d, b.error().reason));
    if (b->ca_pem.empty()) return Fail(fmt::format("--identity {}: no ca.pem", d));
    auto tls = crypto::TlsContext::CreateClient({b->ca_pem, relay_host});
    if (!tls) return Fail(fmt::format("--identity {}: TLS: {}", d, tls.error().reason));
    out.tls.push_back(std::make_unique<crypto::TlsContext>(std::move(*tls)));
    link::LinkConfig c;
    c.tls = out.tls.back().get();
    c.client = link::ClientLoginConfig::Of(b->credential, crypto::Ed25519KeyPair::FromSeed(b->signing_key.seed),
                                           tunnel::LinkRole::kDevice);
    c.client.server_root = b->root_public_key;
    out.configs.push_back(std::move(c));
  }
  return {};
}

}  // namespace strait::cli::bench
