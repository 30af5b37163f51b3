// `strait demo`'s throwaway PKI: an operator root, one tenant, a TLS CA, and relay / connector / device identity
// bundles (crypto/keystore.h layouts) in a temporary directory, made with the same operations `strait keys`
// runs (keys_operations.h), in process. Plus the connector policy that allows the internal server.
#pragma once

#include <cstdint>
#include <string>

#include "crypto/result.h"

namespace strait::cli {

struct DemoLayout {
  std::string root;       // <dir>/root       root.key, root.pub
  std::string tenant;     // <dir>/tenant     tenant "demo"
  std::string tls_ca;     // <dir>/tls-ca     ca.pem, ca.key
  std::string relay;      // <dir>/relay      identity bundle + tls.crt/tls.key for localhost, 127.0.0.1
  std::string connector;  // <dir>/connector  subject "demo-connector", ca.pem
  std::string device;     // <dir>/device     subject "demo-device", ca.pem
};

inline constexpr const char* kDemoTenant = "demo";
inline constexpr const char* kDemoConnectorSubject = "demo-connector";
inline constexpr const char* kDemoDeviceSubject = "demo-device";

// Makes everything under `dir` (which must exist). Credentials last `hours`.
Result<DemoLayout, std::string> MakeDemoIdentities(const std::string& dir, uint64_t now_unix, uint32_t hours);

// Writes a policy (docs/policy.md) allowing 127.0.0.1:<port> and localhost:<port>, nothing else.
Result<void, std::string> WriteDemoPolicy(const std::string& path, uint16_t port);

}  // namespace strait::cli
