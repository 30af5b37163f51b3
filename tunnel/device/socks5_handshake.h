// Socks5Handshake: what the SOCKS5 door (socks5_door.h) decides for one client connection before the stream pump
// takes over, without I/O (style.md item 1). Socks5Conn feeds it the socket's events and does what it says; the
// fuzzer (fuzz/socks5_door_fuzzer.cc) and tests/device/socks5_handshake_test.cc drive it directly.
//
//   kSocks    OnData ─▶ Socks5Server::Feed (socks5.h): replies to send (the greeting's); the request done ─▶ kOpen
//             (the caller pauses reads and opens target()); the bytes after the request are held
//             a refused greeting/request ─▶ its reply, then kCloseGracefully; garbage ─▶ kAbort (both counted as
//             protocol errors); OnReadClosed ─▶ kAbort (gone before the request)
//   kOpening  OnData ─▶ held (bytes the kernel delivered before the pause took effect); OnReadClosed ─▶ eof noted
//             OnOpened ─▶ kPumping: the success reply, the held bytes, and whether the client already half-closed
//             OnOpenFailed(code) ─▶ kClosed: Socks5FailureReply(Socks5ReplyForReset(code)), kCloseGracefully
//   kPumping, kClosed: the handshake has nothing more to say (events return kNone)
//
// Bounds: the SOCKS exchange is at most one greeting and one request (Socks5Server's fixed buffer); held bytes are
// what the client sent after the request until reads stop (the caller pauses at kOpen; the runtime delivers at most
// one more buffer) and are released at OnOpened / OnOpenFailed. The caller bounds time (handshake_timeout).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "tunnel/device/socks5.h"
#include "tunnel/frame.h"

namespace strait::device {

class Socks5Handshake {
 public:
  enum class Phase : std::uint8_t { kSocks, kOpening, kPumping, kClosed };

  struct Step {
    enum class Then : std::uint8_t {
      kNone,             // nothing more (keep reading, or wait)
      kOpen,             // pause reads, open a stream to target(); report OnOpened / OnOpenFailed
      kCloseGracefully,  // after `send`
      kAbort,            // close at once, nothing sent
    };
    std::vector<std::uint8_t> send;  // bytes to write to the client first (SOCKS replies), maybe empty
    Then then = Then::kNone;
    bool protocol_error = false;     // the client broke or was refused by the SOCKS protocol (a counter)
  };

  struct Opened {
    Socks5Reply reply;                // the success reply: before any stream byte
    std::vector<std::uint8_t> held;   // the client's bytes after the request, in order: the stream's first bytes
    bool eof = false;                 // the client half-closed while the stream opened: FIN after `held`
  };

  Step OnData(std::span<const std::uint8_t> bytes);
  Step OnReadClosed();
  // The stream opened (kOpening only; otherwise an empty Opened and no change).
  Opened OnOpened();
  // The open failed (reset, no session, no token): the failure reply and a graceful close. kOpening only.
  Step OnOpenFailed(tunnel::ErrorCode code);

  Phase phase() const { return phase_; }
  const Target& target() const { return socks_.target(); }  // valid from kOpen on
  std::size_t held_bytes() const { return held_.size(); }

 private:
  Phase phase_ = Phase::kSocks;
  bool eof_ = false;
  Socks5Server socks_;
  std::vector<std::uint8_t> held_;
};

}  // namespace strait::device
