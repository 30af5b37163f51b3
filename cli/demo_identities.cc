#include "cli/demo_identities.h"

#include <fmt/format.h>

#include "crypto/keystore.h"
#include "cli/keys_operations.h"

namespace strait::cli {

Result<DemoLayout, std::string> MakeDemoIdentities(const std::string& dir, uint64_t now_unix, uint32_t hours) {
  DemoLayout l;
  l.root = crypto::JoinPath(dir, "root");
  l.tenant = crypto::JoinPath(dir, "tenant");
  l.tls_ca = crypto::JoinPath(dir, "tls-ca");
  l.relay = crypto::JoinPath(dir, "relay");
  l.connector = crypto::JoinPath(dir, "connector");
  l.device = crypto::JoinPath(dir, "device");

  if (auto r = InitRoot({l.root}); !r) return Fail(fmt::format("root key: {}", r.error()));
  TenantOptions t;
  t.root_dir = l.root;
  t.tenant_id = kDemoTenant;
  t.days = 1;
  t.out_dir = l.tenant;
  if (auto r = MakeTenant(t, now_unix); !r) return Fail(fmt::format("tenant: {}", r.error()));
  TlsCaOptions ca;
  ca.out_dir = l.tls_ca;
  ca.common_name = "Strait demo TLS CA";
  ca.days = 1;
  if (auto r = MakeTlsCa(ca); !r) return Fail(fmt::format("TLS CA: {}", r.error()));

  IssueOptions relay;
  relay.role = crypto::Role::kRelay;
  relay.subject = "demo-relay";
  relay.hours = hours;
  relay.out_dir = l.relay;
  relay.root_dir = l.root;
  relay.tls_ca_dir = l.tls_ca;
  relay.dns_names = {"localhost"};
  relay.ip_addresses = {"127.0.0.1"};
  relay.tls_days = 1;
  if (auto r = Issue(relay, now_unix); !r) return Fail(fmt::format("relay identity: {}", r.error()));

  for (auto [role, subject, out] : {std::tuple{crypto::Role::kConnector, kDemoConnectorSubject, l.connector},
                                    std::tuple{crypto::Role::kDevice, kDemoDeviceSubject, l.device}}) {
    IssueOptions o;
    o.role = role;
    o.subject = subject;
    o.hours = hours;
    o.out_dir = out;
    o.tenant_dir = l.tenant;
    o.ca = l.tls_ca;
    if (auto r = Issue(o, now_unix); !r) {
      return Fail(fmt::format("{} identity: {}", crypto::RoleName(role), r.error()));
    }
  }
  return l;
}

Result<void, std::string> WriteDemoPolicy(const std::string& path, uint16_t port) {
  const std::string text = fmt::format(
      "# strait demo: the device may reach the internal HTTP server, by address or by name, and nothing else.\n"
      "version = 1\n\n"
      "[[allow]]\ncidrs = [\"127.0.0.1/32\"]\nports = [\"{0}\"]\n\n"
      "[[allow]]\nhosts = [\"localhost\"]\nports = [\"{0}\"]\n",
      port);
  if (auto r = crypto::WritePublicFile(path, text, crypto::Overwrite::kReplace); !r) {
    return Fail(fmt::format("policy: {}", r.error().reason));
  }
  return {};
}

}  // namespace strait::cli
