// What `strait device` and `strait connector` take from an enrolled identity directory (docs/control-plane.md §6.4
// "Minimal daemon changes"): with DIR/control.json present, the relay endpoints and the pinned connector set come
// from the bundle instead of flags. The commands apply these only where the flag is not given (flags win).
//
//   device     --relay         relays[0].device (HOST:PORT: a name is resolved at start)
//              --relay-name    its HOST (what the relay's certificate carries)
//              --pin-connector DIR/connectors/*.pub, sorted by name
//   connector  --relay         every relays[].connector
//
//   relay,     the subscriber  the control plane's URL, its CA (connector: ca.pem; relay: the certificates after the
//   connector                  leaf of tls.crt), and the snapshot and events paths of this subject (§4.8, §7.2)
//
// Without control.json (an identity from `strait keys`) there are no defaults: nullopt, the daemon runs as before.
// Setup-path code. Thread-safety: free functions, no shared state.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/keystore.h"
#include "crypto/result.h"
#include "tunnel/control/bundle.h"

namespace strait::control {

struct DeviceDefaults {
  std::string relay;       // "" when the bundle lists no relay
  std::string relay_name;  // HOST of `relay`, without brackets
  std::vector<std::string> pinned_connectors;  // paths of connectors/*.pub
};
// kDecode / kFiles as ReadControlFile; kIdentityMismatch when control.json is not a device's.
Result<std::optional<DeviceDefaults>, BundleResultError> DeviceDefaultsFromControl(const std::string& dir);

struct ConnectorDefaults {
  std::vector<std::string> relays;  // HOST:PORT each
};
// kIdentityMismatch when control.json is not a connector's.
Result<std::optional<ConnectorDefaults>, BundleResultError> ConnectorDefaultsFromControl(const std::string& dir);

struct SubscriptionDefaults {
  crypto::Role role = crypto::Role::kRelay;
  std::string tenant;   // "" for a relay
  std::string subject;  // the relay's or connector's id
  std::string url;
  std::string ca_pem;
  std::string snapshot_target;  // /v1/relays/{r}/snapshot, /v1/tenants/{t}/connectors/{c}/snapshot
  std::string events_target;    // .../events
};
// For a relay or a connector. `bundle` is the directory's loaded identity (its CA). kIdentityMismatch when
// control.json is a device's or its kind differs from the bundle's role; kFiles when no CA is at hand.
Result<std::optional<SubscriptionDefaults>, BundleResultError> SubscriptionFromControl(
    const std::string& dir, const crypto::IdentityBundle& bundle);

}  // namespace strait::control
