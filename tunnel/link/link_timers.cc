#include "tunnel/link/link_timers.h"

#include <algorithm>

namespace strait::link {

std::int64_t LinkTimers::NextDeadline() const {
  std::int64_t at = kNever;
  switch (phase_) {
    case Phase::kLogin:
      if (limits_.handshake > 0) at = started_ + limits_.handshake;
      if (!hello_seen_ && limits_.client_hello > 0) at = std::min(at, started_ + limits_.client_hello);
      return at;
    case Phase::kUp:
      at = std::min(flush_retry_at_, credential_at_);
      if (idle_ > 0) at = std::min(at, last_rx_ + idle_);
      if (keepalive_ > 0) at = std::min(at, last_tx_ + keepalive_);
      return at;
    case Phase::kIdle:
    case Phase::kStopped:
      return kNever;
  }
  return kNever;
}

LinkTimers::Action LinkTimers::Due(std::int64_t now) const {
  switch (phase_) {
    case Phase::kLogin:
      if (!hello_seen_ && limits_.client_hello > 0 && now - started_ >= limits_.client_hello) {
        return Action::kHelloTimeout;
      }
      if (limits_.handshake > 0 && now - started_ >= limits_.handshake) return Action::kHandshakeTimeout;
      return Action::kNone;
    case Phase::kUp:
      if (now >= flush_retry_at_) return Action::kFlushRetry;
      if (now >= credential_at_) return Action::kCredentialCheck;
      if (idle_ > 0 && now - last_rx_ >= idle_) return Action::kIdleTimeout;
      if (keepalive_ > 0 && now - last_tx_ >= keepalive_) return Action::kPing;
      return Action::kNone;
    case Phase::kIdle:
    case Phase::kStopped:
      return Action::kNone;
  }
  return Action::kNone;
}

}  // namespace strait::link
