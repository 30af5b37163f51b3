#include "tunnel/device/socks5_handshake.h"

#include <utility>

namespace strait::device {

Socks5Handshake::Step Socks5Handshake::OnData(std::span<const std::uint8_t> in) {
  Step step;
  if (phase_ == Phase::kOpening) {
    held_.insert(held_.end(), in.begin(), in.end());
    return step;
  }
  while (!in.empty() && phase_ == Phase::kSocks) {
    const Socks5Result r = socks_.Feed(in);
    in = in.subspan(r.consumed);
    switch (r.kind) {
      case Socks5Result::Kind::kNeedMore:
        break;
      case Socks5Result::Kind::kReply:
        step.send.insert(step.send.end(), r.reply.begin(), r.reply.end());
        break;
      case Socks5Result::Kind::kReplyAndClose:
        step.send.insert(step.send.end(), r.reply.begin(), r.reply.end());
        step.protocol_error = true;
        step.then = Step::Then::kCloseGracefully;
        phase_ = Phase::kClosed;
        return step;
      case Socks5Result::Kind::kError:
        step.protocol_error = true;
        step.then = Step::Then::kAbort;
        phase_ = Phase::kClosed;
        return step;
      case Socks5Result::Kind::kRequestReady:
        phase_ = Phase::kOpening;
        held_.assign(in.begin(), in.end());  // pipelined bytes: forwarded after OPEN_OK
        step.then = Step::Then::kOpen;
        return step;
    }
  }
  return step;
}

Socks5Handshake::Step Socks5Handshake::OnReadClosed() {
  Step step;
  switch (phase_) {
    case Phase::kSocks:
      phase_ = Phase::kClosed;
      step.then = Step::Then::kAbort;  // gone before the request
      break;
    case Phase::kOpening:
      eof_ = true;  // a half-closed client still gets its reply and the stream (FIN after the held bytes)
      break;
    case Phase::kPumping:
    case Phase::kClosed:
      break;
  }
  return step;
}

Socks5Handshake::Opened Socks5Handshake::OnOpened() {
  Opened o;
  if (phase_ != Phase::kOpening) return o;
  phase_ = Phase::kPumping;
  o.reply = Socks5SuccessReply(Target::Ipv4({0, 0, 0, 0}, 0));
  o.held = std::exchange(held_, {});
  o.eof = eof_;
  return o;
}

Socks5Handshake::Step Socks5Handshake::OnOpenFailed(tunnel::ErrorCode code) {
  Step step;
  if (phase_ != Phase::kOpening) return step;
  phase_ = Phase::kClosed;
  std::vector<std::uint8_t>().swap(held_);
  const Socks5Reply reply = Socks5FailureReply(Socks5ReplyForReset(code));
  step.send.assign(reply.bytes().begin(), reply.bytes().end());
  step.then = Step::Then::kCloseGracefully;
  return step;
}

}  // namespace strait::device
