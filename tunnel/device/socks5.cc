#include "tunnel/device/socks5.h"

#include <algorithm>
#include <cassert>

namespace strait::device {
namespace {

using Kind = Socks5Result::Kind;

// Header bytes before the address in a request and a reply: VER CMD/REP RSV.
constexpr size_t kRequestHeaderSize = 3;
constexpr size_t kPortSize = 2;

// Bytes the address form starting at `r` occupies (type, address, port), once enough of it is visible to tell;
// 0 if more bytes are needed to tell. The type must already be known to be 1, 3 or 4.
size_t AddressSize(ByteReader r) {
  uint8_t type = 0;
  if (!r.ReadU8(&type)) return 0;
  switch (static_cast<AddressType>(type)) {
    case AddressType::kIpv4: return 1 + kIpv4Size + kPortSize;
    case AddressType::kIpv6: return 1 + kIpv6Size + kPortSize;
    case AddressType::kDomain: {
      uint8_t len = 0;
      if (!r.ReadU8(&len)) return 0;
      return 1 + 1 + len + kPortSize;
    }
  }
  return 0;
}

bool IsSupportedAddressType(uint8_t t) {
  return t == static_cast<uint8_t>(AddressType::kIpv4) || t == static_cast<uint8_t>(AddressType::kDomain) ||
         t == static_cast<uint8_t>(AddressType::kIpv6);
}


Socks5Reply BuildReply(Socks5ReplyCode code, const Target& bound) {
  Socks5Reply r;
  ByteWriter w(r.buf);
  w.U8(kSocksVersion);
  w.U8(static_cast<uint8_t>(code));
  w.U8(0);  // RSV
  WriteAddress(bound, w);
  assert(w.ok());  // the buffer holds the largest address form
  r.size = w.written();
  return r;
}

}  // namespace

std::string_view Socks5CloseReasonName(Socks5CloseReason r) {
  switch (r) {
    case Socks5CloseReason::kNone: return "none";
    case Socks5CloseReason::kNoAcceptableMethod: return "no_acceptable_method";
    case Socks5CloseReason::kUnsupportedCommand: return "unsupported_command";
    case Socks5CloseReason::kUnsupportedAddressType: return "unsupported_address_type";
    case Socks5CloseReason::kBadGreetingVersion: return "bad_greeting_version";
    case Socks5CloseReason::kBadRequestVersion: return "bad_request_version";
    case Socks5CloseReason::kEmptyDomain: return "empty_domain";
    case Socks5CloseReason::kFeedAfterDone: return "feed_after_done";
  }
  return "unknown";
}

// The driver: run the current state's function on what is buffered; if it needs more, copy exactly the missing
// bytes (no more) from the input and go again.
Socks5Result Socks5Server::Feed(std::span<const uint8_t> in) {
  if (state_ == State::kDone) {
    Socks5Result res;
    res.kind = Kind::kError;
    res.reason = Socks5CloseReason::kFeedAfterDone;
    return res;
  }
  ByteReader r(in);
  for (;;) {
    Step s = state_ == State::kGreeting ? StepGreeting() : StepRequest();
    if (s.complete) {
      s.result.consumed = in.size() - r.remaining();
      return s.result;
    }
    assert(s.need > have_ && s.need <= buf_.size());
    size_t take = std::min(s.need - have_, r.remaining());
    if (take == 0) {
      Socks5Result res;
      res.consumed = in.size();
      return res;
    }
    bool copied = r.CopyBytes(std::span(buf_).subspan(have_, take));
    assert(copied);
    (void)copied;
    have_ += take;
  }
}

Socks5Server::Step Socks5Server::Close(Kind kind, Socks5CloseReason reason, std::span<const uint8_t> reply) {
  state_ = State::kDone;
  Step s{true, 0, {}};
  s.result.kind = kind;
  s.result.reason = reason;
  std::copy(reply.begin(), reply.end(), reply_.begin());
  s.result.reply = std::span(reply_).first(reply.size());
  return s;
}

// VER NMETHODS METHODS...
Socks5Server::Step Socks5Server::StepGreeting() {
  ByteReader r{std::span<const uint8_t>(buf_).first(have_)};
  uint8_t version = 0;
  uint8_t nmethods = 0;
  if (!r.ReadU8(&version)) return {false, 1, {}};
  if (version != kSocksVersion) return Close(Kind::kError, Socks5CloseReason::kBadGreetingVersion, {});
  if (!r.ReadU8(&nmethods)) return {false, 2, {}};
  std::span<const uint8_t> methods;
  if (!r.ReadBytes(nmethods, &methods)) return {false, 2 + size_t{nmethods}, {}};

  if (std::ranges::find(methods, kSocksMethodNoAuth) == methods.end()) {
    const uint8_t refuse[] = {kSocksVersion, kSocksMethodNoneAcceptable};
    return Close(Kind::kReplyAndClose, Socks5CloseReason::kNoAcceptableMethod, refuse);
  }
  state_ = State::kRequest;
  have_ = 0;
  Step s{true, 0, {}};
  s.result.kind = Kind::kReply;
  reply_[0] = kSocksVersion;
  reply_[1] = kSocksMethodNoAuth;
  s.result.reply = std::span(reply_).first(2);
  return s;
}

// VER CMD RSV ATYP ADDR PORT
Socks5Server::Step Socks5Server::StepRequest() {
  ByteReader r{std::span<const uint8_t>(buf_).first(have_)};
  uint8_t version = 0;
  uint8_t command = 0;
  uint8_t reserved = 0;
  if (!r.ReadU8(&version)) return {false, 1, {}};
  if (version != kSocksVersion) return Close(Kind::kError, Socks5CloseReason::kBadRequestVersion, {});
  if (!r.ReadU8(&command)) return {false, 2, {}};
  if (command != kSocksCmdConnect) {
    Socks5Reply reply = Socks5FailureReply(Socks5ReplyCode::kCommandNotSupported);
    return Close(Kind::kReplyAndClose, Socks5CloseReason::kUnsupportedCommand, reply.bytes());
  }
  if (!r.ReadU8(&reserved)) return {false, kRequestHeaderSize, {}};  // RSV is ignored

  ByteReader address = r;
  uint8_t type = 0;
  if (!ByteReader(r).ReadU8(&type)) return {false, kRequestHeaderSize + 1, {}};
  if (!IsSupportedAddressType(type)) {
    Socks5Reply reply = Socks5FailureReply(Socks5ReplyCode::kAddressTypeNotSupported);
    return Close(Kind::kReplyAndClose, Socks5CloseReason::kUnsupportedAddressType, reply.bytes());
  }
  size_t address_size = AddressSize(r);
  if (address_size == 0) return {false, kRequestHeaderSize + 2, {}};  // a domain's length byte
  if (type == static_cast<uint8_t>(AddressType::kDomain) && address_size == 1 + 1 + kPortSize) {
    return Close(Kind::kError, Socks5CloseReason::kEmptyDomain, {});  // known at the length byte
  }
  if (r.remaining() < address_size) return {false, kRequestHeaderSize + address_size, {}};
  bool read = ReadAddress(address, &target_);
  assert(read && address.empty());  // complete, supported type, non-empty name: it parses
  (void)read;
  state_ = State::kDone;
  Step s{true, 0, {}};
  s.result.kind = Kind::kRequestReady;
  return s;
}

Socks5Reply Socks5SuccessReply(const Target& bound) { return BuildReply(Socks5ReplyCode::kSucceeded, bound); }

Socks5Reply Socks5FailureReply(Socks5ReplyCode code) {
  return BuildReply(code, Target::Ipv4({0, 0, 0, 0}, 0));
}

Socks5ReplyCode Socks5ReplyForReset(tunnel::ErrorCode code) {
  using tunnel::ErrorCode;
  switch (code) {
    case ErrorCode::kRefusedByPolicy:
    case ErrorCode::kUnauthorized:
      return Socks5ReplyCode::kNotAllowedByRuleset;
    case ErrorCode::kConnectFailed:
      return Socks5ReplyCode::kConnectionRefused;
    case ErrorCode::kDnsFailed:
      return Socks5ReplyCode::kHostUnreachable;
    case ErrorCode::kTimeout:
      return Socks5ReplyCode::kTtlExpired;  // as Dante maps ETIMEDOUT; curl reports "TTL expired"
    case ErrorCode::kNoConnector:
    case ErrorCode::kConnectorGone:
      return Socks5ReplyCode::kNetworkUnreachable;
    default:  // too_many_streams, overloaded, cancelled, internal, protocol errors, codes not yet known
      return Socks5ReplyCode::kGeneralFailure;
  }
}

}  // namespace strait::device
