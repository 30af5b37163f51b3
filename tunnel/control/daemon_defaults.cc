#include "tunnel/control/daemon_defaults.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include "tunnel/control/control_wire.h"

namespace strait::control {
namespace {

BundleResultError Err(BundleError code, std::string reason) { return {code, std::move(reason)}; }

// "HOST:PORT" or "[V6]:PORT" -> HOST (DecodeControlFile has checked the endpoint's syntax).
std::string HostOf(const std::string& endpoint) {
  if (!endpoint.empty() && endpoint.front() == '[') {
    const size_t close = endpoint.find(']');
    return close == std::string::npos ? endpoint : endpoint.substr(1, close - 1);
  }
  return endpoint.substr(0, endpoint.rfind(':'));
}

}  // namespace

Result<std::optional<DeviceDefaults>, BundleResultError> DeviceDefaultsFromControl(const std::string& dir) {
  auto cf = ReadControlFile(dir);
  if (!cf) return Fail(cf.error());
  if (!*cf) return std::optional<DeviceDefaults>();
  const ControlFile& c = **cf;
  if (c.kind != crypto::Role::kDevice) {
    return Fail(Err(BundleError::kIdentityMismatch, dir + "/control.json: not a device's"));
  }
  DeviceDefaults d;
  if (!c.relays.empty()) {
    d.relay = c.relays.front().device;
    d.relay_name = HostOf(d.relay);
  }
  namespace fs = std::filesystem;
  const fs::path connectors = fs::path(dir) / wire::kConnectorsDir;
  std::error_code ec;
  if (fs::is_directory(connectors, ec)) {
    for (fs::directory_iterator it(connectors, ec), end; !ec && it != end; it.increment(ec)) {
      const fs::path& p = it->path();
      if (p.extension() == wire::kConnectorKeySuffix && it->is_regular_file(ec)) d.pinned_connectors.push_back(p);
    }
    if (ec) return Fail(Err(BundleError::kFiles, connectors.string() + ": " + ec.message()));
    std::sort(d.pinned_connectors.begin(), d.pinned_connectors.end());
  }
  return std::optional<DeviceDefaults>(std::move(d));
}

Result<std::optional<ConnectorDefaults>, BundleResultError> ConnectorDefaultsFromControl(const std::string& dir) {
  auto cf = ReadControlFile(dir);
  if (!cf) return Fail(cf.error());
  if (!*cf) return std::optional<ConnectorDefaults>();
  const ControlFile& c = **cf;
  if (c.kind != crypto::Role::kConnector) {
    return Fail(Err(BundleError::kIdentityMismatch, dir + "/control.json: not a connector's"));
  }
  ConnectorDefaults d;
  for (const RelayEndpoint& r : c.relays) d.relays.push_back(r.connector);
  return std::optional<ConnectorDefaults>(std::move(d));
}

Result<std::optional<SubscriptionDefaults>, BundleResultError> SubscriptionFromControl(
    const std::string& dir, const crypto::IdentityBundle& bundle) {
  auto cf = ReadControlFile(dir);
  if (!cf) return Fail(cf.error());
  if (!*cf) return std::optional<SubscriptionDefaults>();
  const ControlFile& c = **cf;
  if ((c.kind != crypto::Role::kRelay && c.kind != crypto::Role::kConnector) || c.kind != bundle.role) {
    return Fail(Err(BundleError::kIdentityMismatch,
                    fmt::format("{}/control.json: a {}'s, not this {}'s", dir, crypto::RoleName(c.kind),
                                crypto::RoleName(bundle.role))));
  }
  SubscriptionDefaults d;
  d.role = c.kind;
  d.tenant = c.tenant;
  d.subject = c.subject;
  d.url = c.url;
  const std::string base = c.kind == crypto::Role::kRelay
                               ? fmt::format("/v1/relays/{}", c.subject)
                               : fmt::format("/v1/tenants/{}/connectors/{}", c.tenant, c.subject);
  d.snapshot_target = base + "/snapshot";
  d.events_target = base + "/events";
  d.ca_pem = c.kind == crypto::Role::kRelay ? CertificatesAfterFirst(bundle.tls_cert_pem) : bundle.ca_pem;
  if (d.ca_pem.empty()) {
    return Fail(Err(BundleError::kFiles, fmt::format("{}: no CA for the control plane's certificate ({})", dir,
                                                     c.kind == crypto::Role::kRelay ? "tls.crt holds only its leaf"
                                                                                    : "no ca.pem")));
  }
  return std::optional<SubscriptionDefaults>(std::move(d));
}

}  // namespace strait::control
