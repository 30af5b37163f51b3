// DaemonRenewer: the renewer (tunnel/control/renewer.h) as the three daemon commands run it for an identity enrolled
// with strait-control (DIR/control.json): the credential files renewed before they expire, and what happened as log
// lines:
//
//   credential_renewed  not_after, next     the files hold a new credential (info)
//   renew_failed        reason, next        this attempt failed; it is retried (warn)
//   renew_fatal         reason              revoked, or the credential is no longer accepted (error): SIGTERM to
//                                           this process; ended() turns true and the command exits 1
//
// `on_renewed` puts the new credential into the running daemon: cli/daemon_control.h gives it to the subscriber and,
// from the files loaded again, to the data plane (Relay::Renew, Connector::SetCredential,
// DeviceClient::PostCredential; docs/control-plane.md §6.5).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "crypto/result.h"
#include "logging/logger.h"
#include "tunnel/control/renewer.h"

namespace strait::cli {

class DaemonRenewer {
 public:
  // [renewer thread] A new credential is in the files (e.g. ControlSubscription::SetCredential).
  using OnRenewed = std::function<void(const control::Renewed& renewed)>;
  // Starts the renewer for `dir` (which has a control.json). `log` must outlive this object.
  static Result<std::unique_ptr<DaemonRenewer>, std::string> Start(const std::string& dir, crypto::Role kind,
                                                                   logging::Logger* log, OnRenewed on_renewed);
  ~DaemonRenewer();  // stops the thread

  // True once the renewer ended for good (revoked, not accepted): the daemon exits 1.
  bool ended() const { return ended_.load(std::memory_order_acquire); }

 private:
  DaemonRenewer(logging::Logger* log, OnRenewed on_renewed) : log_(log), on_renewed_(std::move(on_renewed)) {}
  void OnOutcome(const control::RenewOutcome& o);

  logging::Logger* const log_;
  const OnRenewed on_renewed_;
  std::unique_ptr<control::Renewer> renewer_;
  std::atomic<bool> ended_{false};
};

}  // namespace strait::cli
