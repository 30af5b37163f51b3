// The device's SOCKS5 door (RFC 1928), server side, sans I/O: one Socks5Server per accepted client connection.
//
// Protocol flow (what this file accepts; everything else is refused with a reply or dropped with a reason):
//
//   client -> greeting   VER=5 | NMETHODS (1..255) | METHODS...           at most 2 + 255 = 257 bytes
//   server <- selection  VER=5 | METHOD=0x00 (no auth), or 0xFF and close   2 bytes
//   client -> request    VER=5 | CMD=1 (CONNECT) | RSV | ATYP | ADDR | PORT  at most 4 + 1 + 255 + 2 = 262 bytes
//            ATYP 1: 4-byte IPv4 | 3: u8 length (1..255) + name | 4: 16-byte IPv6       (same form as OPEN, §8)
//   -- Feed returns kRequestReady; the caller opens an app stream to target() --
//   server <- reply      VER=5 | REP | RSV=0 | ATYP | BND.ADDR | BND.PORT      (Socks5SuccessReply / FailureReply)
//   then raw bytes both ways (the caller's business, not this class's).
//
// Only method 0x00 (NO AUTHENTICATION REQUIRED) and CMD 1 (CONNECT) are supported; BIND and UDP ASSOCIATE get
// REP 0x07, other address types REP 0x08, and no offered method 0x00 gets METHOD 0xFF. RSV in the request is
// ignored (as common servers do).
//
// Buffering: Feed copies into a fixed 262-byte buffer only the bytes the current message still needs, so it
// never takes more than one greeting or one request and never allocates. Bytes after the request (a client that
// pipelines data before the reply) are left unconsumed: they belong to the stream. A result is the same however
// the input is split across Feed calls.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "tunnel/device/target.h"
#include "tunnel/frame.h"

namespace strait::device {

inline constexpr uint8_t kSocksVersion = 5;
inline constexpr uint8_t kSocksMethodNoAuth = 0x00;
inline constexpr uint8_t kSocksMethodNoneAcceptable = 0xFF;
inline constexpr uint8_t kSocksCmdConnect = 0x01;
inline constexpr size_t kMaxSocksGreetingSize = 2 + 255;
inline constexpr size_t kMaxSocksRequestSize = 4 + 1 + kMaxDomainSize + 2;
static_assert(kMaxSocksGreetingSize == 257 && kMaxSocksRequestSize == 262);
// Largest reply: VER REP RSV + the largest address form (a 255-byte name).
inline constexpr size_t kMaxSocksReplySize = 3 + kMaxAddressWireSize;
static_assert(kMaxSocksReplySize == 262);

// REP values of RFC 1928 §6.
enum class Socks5ReplyCode : uint8_t {
  kSucceeded = 0x00,
  kGeneralFailure = 0x01,
  kNotAllowedByRuleset = 0x02,
  kNetworkUnreachable = 0x03,
  kHostUnreachable = 0x04,
  kConnectionRefused = 0x05,
  kTtlExpired = 0x06,
  kCommandNotSupported = 0x07,
  kAddressTypeNotSupported = 0x08,
};

// Why the door closes a client connection (kReplyAndClose or kError): one name per reason, for counters.
enum class Socks5CloseReason : uint8_t {
  kNone = 0,
  // Refused with a reply (kReplyAndClose).
  kNoAcceptableMethod,      // the greeting did not offer 0x00 (reply METHOD 0xFF)
  kUnsupportedCommand,      // CMD other than CONNECT (REP 0x07)
  kUnsupportedAddressType,  // ATYP other than 1, 3, 4 (REP 0x08)
  // Dropped without a reply (kError): not speaking SOCKS5 well enough to be answered.
  kBadGreetingVersion,      // first byte is not 5 (e.g. a SOCKS4 or HTTP client)
  kBadRequestVersion,       // request VER is not 5
  kEmptyDomain,             // ATYP 3 with length 0
  kFeedAfterDone,           // Feed called after kRequestReady, kReplyAndClose or kError: a caller bug
};
std::string_view Socks5CloseReasonName(Socks5CloseReason r);

struct Socks5Result {
  enum class Kind : uint8_t {
    kNeedMore,        // every byte offered was consumed; feed more when it arrives
    kReply,           // write `reply`, then feed the bytes after `consumed` (greeting accepted)
    kRequestReady,    // target() is set; open the stream, then write Socks5SuccessReply or Socks5FailureReply
    kReplyAndClose,   // write `reply`, then close; `reason` says why
    kError,           // close without a reply; `reason` says why
  };
  Kind kind = Kind::kNeedMore;
  size_t consumed = 0;                 // bytes of the input taken by this call
  std::span<const uint8_t> reply;      // kReply / kReplyAndClose: valid until the next Feed on the same server
  Socks5CloseReason reason = Socks5CloseReason::kNone;  // kReplyAndClose / kError
};

class Socks5Server {
 public:
  // Consumes a prefix of `in`. Never consumes past the end of the request. Single-threaded, no allocation.
  Socks5Result Feed(std::span<const uint8_t> in);

  // Valid after Feed returned kRequestReady.
  const Target& target() const { return target_; }

 private:
  enum class State : uint8_t { kGreeting, kRequest, kDone };
  // What a state function concluded about the bytes buffered so far.
  struct Step {
    bool complete;       // false: the message needs `need` bytes in total; true: `result` is the outcome
    size_t need;
    Socks5Result result;
  };

  Step StepGreeting();
  Step StepRequest();
  Step Close(Socks5Result::Kind kind, Socks5CloseReason reason, std::span<const uint8_t> reply);

  State state_ = State::kGreeting;
  std::array<uint8_t, kMaxSocksRequestSize> buf_{};  // the message being assembled
  size_t have_ = 0;
  std::array<uint8_t, kMaxSocksReplySize> reply_{};  // the reply a result points at
  Target target_;
};

// A reply ready to write: VER REP RSV ATYP BND.ADDR BND.PORT.
struct Socks5Reply {
  std::array<uint8_t, kMaxSocksReplySize> buf{};
  size_t size = 0;
  std::span<const uint8_t> bytes() const { return std::span(buf).first(size); }
};

// Success with the bound address (the device does not know the connector's socket; 0.0.0.0:0 is customary).
Socks5Reply Socks5SuccessReply(const Target& bound);
// A failure reply; BND is 0.0.0.0:0. `code` should not be kSucceeded.
Socks5Reply Socks5FailureReply(Socks5ReplyCode code);
// Maps a stream RESET (or SESSION_CLOSE / ERROR) code of protocol.md §10 to a REP value: refused_by_policy and
// unauthorized -> 0x02, connect_failed -> 0x05, dns_failed -> 0x04, timeout -> 0x06, no_connector and
// connector_gone -> 0x03, anything else (too_many_streams, overloaded, ...) -> 0x01.
Socks5ReplyCode Socks5ReplyForReset(tunnel::ErrorCode code);

}  // namespace strait::device
