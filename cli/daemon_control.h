// DaemonControl: what a daemon enrolled with strait-control (DIR/control.json) runs beside its data plane, wired the
// same way by the three daemon commands (docs/control-plane.md §6.5, §7):
//
//   subscriber  relay and connector: snapshots and events to the daemon's appliers (cli/control_subscription.h)
//   renewer     all three: the credential files renewed before they expire (cli/daemon_renewer.h); each renewal
//               goes to the subscriber (its next connection authenticates with it) and into the data plane: the
//               identity directory is loaded again (crypto::LoadIdentityBundle) and the bundle handed to `apply`
//               (Relay::Renew, Connector::SetCredential, DeviceClient::PostCredential)
//
// Log lines, beside the subscriber's and the renewer's:
//   credential_applied   not_after      the data plane took the renewed credential for its next logins (info)
//   credential_refused   reason         it did not (error): the links keep the credential they logged in with, and
//                                       the next renewal tries again; a restart reads the files
//
// ended(): the control plane revoked this daemon (through either): the command stops and exits 1.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "cli/control_subscription.h"
#include "cli/daemon_renewer.h"
#include "crypto/keystore.h"
#include "crypto/result.h"
#include "logging/logger.h"
#include "tunnel/control/daemon_defaults.h"

namespace strait::cli {

// The wall clock in unix seconds: the control plane's events and snapshots are judged by it.
std::uint64_t UnixNow();

class DaemonControl {
 public:
  // [renewer thread] Puts a renewed bundle into the data plane; an error line when it refuses it.
  using ApplyFn = std::function<Result<void, std::string>(const crypto::IdentityBundle& bundle)>;
  struct Subscribe {
    control::SubscriptionDefaults where;
    ControlSubscription::SnapshotFn on_snapshot;
    ControlSubscription::EventFn on_event;
  };

  // Starts the subscriber (with `subscribe`) and the renewer for the identity `dir` (whose files `bundle` holds, of
  // role `role`). `log` must outlive this object, and whatever the callbacks reach must outlive it too. An error
  // line when either cannot start (nothing left running then).
  static Result<std::unique_ptr<DaemonControl>, std::string> Start(const std::string& dir, crypto::Role role,
                                                                   const crypto::IdentityBundle& bundle,
                                                                   logging::Logger* log,
                                                                   std::optional<Subscribe> subscribe, ApplyFn apply);
  ~DaemonControl();  // stops the renewer, then the subscriber (both call into the daemon)
  DaemonControl(const DaemonControl&) = delete;
  DaemonControl& operator=(const DaemonControl&) = delete;

  // True once the control plane revoked this daemon (the subscriber or the renewer said so): exit 1.
  bool ended() const {
    return (subscription_ && subscription_->ended()) || (renewer_ && renewer_->ended());
  }

 private:
  DaemonControl(std::string dir, logging::Logger* log, ApplyFn apply)
      : dir_(std::move(dir)), log_(log), apply_(std::move(apply)) {}
  // [renewer thread]
  void OnRenewed(const control::Renewed& renewed);

  const std::string dir_;
  logging::Logger* const log_;
  const ApplyFn apply_;
  crypto::Ed25519Seed seed_;  // the signing key's: a renewal never changes it
  std::unique_ptr<ControlSubscription> subscription_;
  std::unique_ptr<DaemonRenewer> renewer_;
};

}  // namespace strait::cli
