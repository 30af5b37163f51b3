// The simulated devices' credentials, for the process that runs their links: `strait bench` itself, or one of its
// worker processes (cli/bench/workers.h), each building only its own slice.
//
//   DeviceIssuer       a local deployment's directory (cli/bench/local_deployment.h): credentials issued in memory
//                      from its tenant key, subject bench-dev-<i> for device i (so a slice names its devices by
//                      their first index), checking the relay's credential against its root key as a device does
//   LoadDeviceBundles  a remote relay's --identity: a bundle, or a directory of bundles dev-0, dev-1, ...
//
// The LinkConfigs point into the object that made them (its TLS contexts): they are valid while it lives.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/keys.h"
#include "crypto/result.h"
#include "crypto/tls_context.h"
#include "tunnel/link/tls_link.h"

namespace strait::cli::bench {

class DeviceIssuer {
 public:
  // Reads DIR/tenant/tenant.{key,cert}, DIR/ca/ca.pem and DIR/root/root.pub.
  static Result<std::unique_ptr<DeviceIssuer>, std::string> Open(const std::string& dir);
  // Devices first .. first+count-1, each with a credential of its own valid 4 hours (one Ed25519 signature each).
  Result<std::vector<link::LinkConfig>, std::string> Issue(std::uint32_t first, std::uint32_t count) const;

 private:
  DeviceIssuer() = default;
  std::optional<crypto::Ed25519KeyPair> tenant_key_;
  std::vector<std::uint8_t> tenant_cert_;
  std::unique_ptr<crypto::TlsContext> tls_;  // the devices' (trusts the deployment's TLS CA)
  crypto::Ed25519PublicKey root_public_{};
};

// A remote relay's device identities: `identity` is one bundle (bundles == 0) or a directory of `bundles` bundles
// dev-0 .. dev-<bundles-1>. Device i logs in with bundle i % bundles; this loads what devices first ..
// first+count-1 use, in the order RunFleet indexes them (its device j is device first+j): at most `count` of them,
// a TLS context each, and `count` is bounded by the links one process holds (19,000; a worker's 15,000).
struct DeviceBundles {
  std::vector<std::unique_ptr<crypto::TlsContext>> tls;  // one per bundle: each names its own CA
  std::vector<link::LinkConfig> configs;
};
// The bundles dev-0, dev-1, ... in `identity`, counted up to `max` (0: `identity` is itself a bundle).
std::uint32_t CountDeviceBundles(const std::string& identity, std::uint32_t max);
// `relay_host` is the name the relay's TLS certificate is checked against (--relay's host).
Result<void, std::string> LoadDeviceBundles(const std::string& identity, std::uint32_t bundles,
                                            const std::string& relay_host, std::uint32_t first, std::uint32_t count,
                                            DeviceBundles& out);

}  // namespace strait::cli::bench
