#include "tunnel/link/dialer.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace strait::link {

std::chrono::milliseconds BackoffDelay(const DialerOptions& options, std::uint32_t failures, double u) {
  const double min_ms = static_cast<double>(std::max<std::int64_t>(1, options.min_backoff.count()));
  const double max_ms = std::max(min_ms, static_cast<double>(options.max_backoff.count()));
  const double base = std::min(max_ms, min_ms * std::ldexp(1.0, static_cast<int>(std::min(failures, 40u))));
  const double jitter = std::clamp(options.jitter, 0.0, 1.0);
  const double scaled = base * (1.0 - jitter * std::clamp(u, 0.0, 1.0));
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::max(1.0, scaled)));
}

std::uint64_t LoginFailureLog::OnFailure(Clock::time_point now) {
  ++failures_;
  ++unlogged_;
  if (last_line_ && now - *last_line_ < interval_) return 0;
  last_line_ = now;
  return std::exchange(unlogged_, 0);
}

std::uint64_t LoginFailureLog::OnLoggedIn() {
  last_line_.reset();
  unlogged_ = 0;
  return std::exchange(failures_, 0);
}

std::string DescribeLinkDown(const LinkDown& down) {
  std::string s(DownReasonName(down.reason));
  if (down.code != 0) {
    s += " code=";
    s += tunnel::ErrorCodeName(static_cast<tunnel::ErrorCode>(down.code));
  }
  if (!down.message.empty()) {
    // The text may come from the peer (ERROR reason): one line of printable ASCII.
    s += " (";
    for (char c : down.message) s += (c >= 0x20 && c < 0x7f) ? c : '?';
    s += ")";
  }
  return s;
}

Dialer::Dialer(runtime::EventLoop& loop, LinkLoopState& shared, const LinkConfig& config, DialerOptions options,
               LinkHandler& owner)
    : loop_(&loop),
      shared_(&shared),
      config_(&config),
      owner_(&owner),
      options_(options),
      rng_(std::random_device{}()) {}

Dialer::~Dialer() {
  if (timer_.valid()) loop_->CancelTimer(timer_);
}

void Dialer::Start() {
  if (running_) return;
  running_ = true;
  if (!link_ && !timer_.valid()) Dial();
}

void Dialer::Stop() {
  running_ = false;
  if (timer_.valid()) {
    loop_->CancelTimer(timer_);
    timer_ = {};
  }
  if (link_) link_->Abort();
}

void Dialer::Dial() {
  if (!running_ || loop_->stopping()) return;
  ++dials_;
  LinkHandler& self = *this;
  link_ = std::make_unique<TlsLink>(*loop_, *shared_, *config_, self);
  if (!link_->Connect(options_.address)) {  // no slot or no socket: no callback follows
    link_.reset();
    ++failures_;
    ScheduleDial();
  }
}

void Dialer::ScheduleDial() {
  if (!running_ || loop_->stopping() || timer_.valid()) return;
  const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  last_delay_ = BackoffDelay(options_, failures_ == 0 ? 0 : failures_ - 1, u);
  timer_ = loop_->AddTimer(last_delay_, this);
}

void Dialer::OnTimer(runtime::EventLoop& /*loop*/, runtime::TimerId /*id*/, std::uint64_t /*arg*/) {
  timer_ = {};
  Dial();
}

std::optional<LoginRefusal> Dialer::AdmitServer(TlsLink& link, const RelayLogin& server) {
  return owner_->AdmitServer(link, server);  // a refusal ends this dial as a failure: the backoff grows
}

void Dialer::OnLinkUp(TlsLink& link, const LinkIdentity& identity) {
  failures_ = 0;
  owner_->OnLinkUp(link, identity);
}

void Dialer::OnFrame(TlsLink& link, const Frame& frame) { owner_->OnFrame(link, frame); }

void Dialer::OnLinkDown(TlsLink& link, const LinkDown& down) {
  // A link that was up starts the backoff over; one that never came up counts as a failure.
  failures_ = down.was_up ? 0 : failures_ + 1;
  owner_->OnLinkDown(link, down);
  link_.reset();  // allowed inside OnLinkDown (tls_link.h)
  ScheduleDial();
}

void Dialer::OnSendQueueHigh(TlsLink& link) { owner_->OnSendQueueHigh(link); }
void Dialer::OnSendQueueLow(TlsLink& link) { owner_->OnSendQueueLow(link); }

}  // namespace strait::link
