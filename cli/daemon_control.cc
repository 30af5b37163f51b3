#include "cli/daemon_control.h"

#include <time.h>

#include <utility>

namespace strait::cli {

std::uint64_t UnixNow() { return static_cast<std::uint64_t>(::time(nullptr)); }

Result<std::unique_ptr<DaemonControl>, std::string> DaemonControl::Start(const std::string& dir, crypto::Role role,
                                                                         const crypto::IdentityBundle& bundle,
                                                                         logging::Logger* log,
                                                                         std::optional<Subscribe> subscribe,
                                                                         ApplyFn apply) {
  std::unique_ptr<DaemonControl> c(new DaemonControl(dir, log, std::move(apply)));
  c->seed_ = bundle.signing_key.seed;
  if (subscribe) {
    auto sub = ControlSubscription::Start(subscribe->where, bundle, log, std::move(subscribe->on_snapshot),
                                          std::move(subscribe->on_event));
    if (!sub) return Fail(sub.error());
    c->subscription_ = std::move(*sub);
  }
  DaemonControl* self = c.get();
  auto rn = DaemonRenewer::Start(dir, role, log, [self](const control::Renewed& r) { self->OnRenewed(r); });
  if (!rn) return Fail(rn.error());  // ~DaemonControl stops the subscriber
  c->renewer_ = std::move(*rn);
  return c;
}

DaemonControl::~DaemonControl() {
  renewer_.reset();  // its callback reaches the subscription
  subscription_.reset();
}

void DaemonControl::OnRenewed(const control::Renewed& renewed) {
  if (subscription_) subscription_->SetCredential(renewed.credential, crypto::Ed25519KeyPair::FromSeed(seed_));
  if (!apply_) return;
  auto bundle = crypto::LoadIdentityBundle(dir_);
  if (!bundle) {
    log_->Log(logging::Event(logging::Level::kError, "credential_refused")
                  .With("reason", "identity " + dir_ + ": " + bundle.error().reason));
    return;
  }
  if (auto applied = apply_(*bundle); !applied) {
    log_->Log(logging::Event(logging::Level::kError, "credential_refused").With("reason", applied.error()));
    return;
  }
  log_->Log(logging::Event(logging::Level::kInfo, "credential_applied").With("not_after", renewed.not_after));
}

}  // namespace strait::cli
