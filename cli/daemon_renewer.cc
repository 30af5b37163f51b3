#include "cli/daemon_renewer.h"

#include <signal.h>
#include <unistd.h>

namespace strait::cli {

Result<std::unique_ptr<DaemonRenewer>, std::string> DaemonRenewer::Start(const std::string& dir, crypto::Role kind,
                                                                         logging::Logger* log, OnRenewed on_renewed) {
  std::unique_ptr<DaemonRenewer> r(new DaemonRenewer(log, std::move(on_renewed)));
  control::RenewerOptions o;
  o.dir = dir;
  o.renew.kind = kind;
  DaemonRenewer* self = r.get();
  r->renewer_ = std::make_unique<control::Renewer>(std::move(o),
                                                   [self](const control::RenewOutcome& out) { self->OnOutcome(out); });
  if (auto s = r->renewer_->Start(); !s) return Fail("renewer: " + s.error());
  return r;
}

DaemonRenewer::~DaemonRenewer() {
  if (renewer_) renewer_->Stop();
}

void DaemonRenewer::OnOutcome(const control::RenewOutcome& o) {
  switch (o.status) {
    case control::RenewStatus::kRenewed:
      log_->Log(logging::Event(logging::Level::kInfo, "credential_renewed")
                    .With("not_after", o.renewed.not_after)
                    .With("next", o.next_attempt));
      if (on_renewed_) on_renewed_(o.renewed);
      return;
    case control::RenewStatus::kFailed:
      log_->Log(logging::Event(logging::Level::kWarn, "renew_failed")
                    .With("reason", o.failure.reason)
                    .With("next", o.next_attempt));
      return;
    case control::RenewStatus::kFatal:
      log_->Log(logging::Event(logging::Level::kError, "renew_fatal").With("reason", o.failure.reason));
      if (!ended_.exchange(true, std::memory_order_acq_rel)) kill(getpid(), SIGTERM);  // drain, then exit 1
      return;
  }
}

}  // namespace strait::cli
