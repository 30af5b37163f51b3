// The SOCKS5 door's per-connection decisions (tunnel/device/socks5_handshake.h, what Socks5Conn in
// socks5_door.cc does before the stream pump takes over), fed a client's bytes and the socket and stream events
// in any order. fuzz/socks5_fuzzer.cc covers the parser (socks5.h); this covers what the door adds: what it sends,
// when it opens, what it holds for the stream, how an open's outcome is answered, and what it ignores.
//
// Input: records [u8 op][u8 len][len bytes], until the input ends.
//   op % 4 == 0  client bytes (OnData)
//            1  the client half-closed (OnReadClosed)
//            2  the stream opened (OnOpened)
//            3  the open failed (OnOpenFailed) with ErrorCode bytes[0..1] (big-endian; 0 if fewer bytes)
//
// Model: a fresh Socks5Server (socks5.h) fed all the client bytes at once gives the reference replies, outcome
// and target. Properties (trap on violation), beyond "never crashes":
//   - the bytes sent in kSocks are exactly the reference's replies (however the bytes were split), and the phase
//     follows the reference outcome: request ready -> kOpen once, with the reference target; refused -> its reply
//     then a graceful close; garbage -> abort (nothing sent but a greeting reply due in the same bytes); both
//     counted as protocol errors;
//   - a half-close before the request aborts (not counted); during the open it is remembered (Opened.eof);
//   - OnOpened gives the success reply 05 00 00 01 0.0.0.0:0 and, as held bytes, exactly the client bytes after
//     the request (pipelined with it, or arriving before reads stopped), in order;
//   - OnOpenFailed answers with the REP that protocol.md §10's code maps to (a table here, not socks5.cc's switch)
//     and closes gracefully, dropping the held bytes;
//   - outside the phase an event belongs to, it does nothing: no bytes, kNone, no phase change;
//   - the phase only moves forward (kSocks -> kOpening -> kPumping, or -> kClosed).
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <span>
#include <vector>

#include "tunnel/device/socks5.h"
#include "tunnel/device/socks5_handshake.h"

namespace {

using namespace strait;          // NOLINT(google-build-using-namespace)
using namespace strait::device;  // NOLINT(google-build-using-namespace)
using Then = Socks5Handshake::Step::Then;
using Phase = Socks5Handshake::Phase;

void Check(bool cond) {
  if (!cond) __builtin_trap();
}

// protocol.md §10 -> RFC 1928 REP, written out independently of Socks5ReplyForReset.
uint8_t ExpectedRep(uint16_t code) {
  using tunnel::ErrorCode;
  const auto is = [code](ErrorCode c) { return code == static_cast<uint16_t>(c); };
  if (is(ErrorCode::kRefusedByPolicy) || is(ErrorCode::kUnauthorized)) return 0x02;
  if (is(ErrorCode::kConnectFailed)) return 0x05;
  if (is(ErrorCode::kDnsFailed)) return 0x04;
  if (is(ErrorCode::kTimeout)) return 0x06;
  if (is(ErrorCode::kNoConnector) || is(ErrorCode::kConnectorGone)) return 0x03;
  return 0x01;
}

// What a Socks5Server makes of all the client bytes at once.
struct Reference {
  std::vector<uint8_t> replies;
  Socks5Result::Kind end = Socks5Result::Kind::kNeedMore;
  size_t request_end = 0;  // bytes up to the end of the request (kRequestReady)
  Socks5Server server;

  explicit Reference(std::span<const uint8_t> all) {
    std::span<const uint8_t> in = all;
    while (!in.empty()) {
      const Socks5Result r = server.Feed(in);
      in = in.subspan(r.consumed);
      if (r.kind == Socks5Result::Kind::kReply || r.kind == Socks5Result::Kind::kReplyAndClose) {
        replies.insert(replies.end(), r.reply.begin(), r.reply.end());
      }
      if (r.kind == Socks5Result::Kind::kReply || r.kind == Socks5Result::Kind::kNeedMore) continue;
      end = r.kind;
      request_end = all.size() - in.size();
      return;
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // First pass: the client bytes, in order, for the reference.
  std::vector<uint8_t> all;
  for (size_t i = 0; i + 2 <= size;) {
    const size_t len = std::min<size_t>(data[i + 1], size - i - 2);
    if (data[i] % 4 == 0) all.insert(all.end(), data + i + 2, data + i + 2 + len);
    i += 2 + len;
  }
  const Reference ref(all);

  Socks5Handshake hs;
  std::vector<uint8_t> sent;     // in kSocks
  std::vector<uint8_t> fed;      // client bytes delivered so far
  bool eof_in_opening = false;

  for (size_t i = 0; i + 2 <= size;) {
    const uint8_t op = data[i] % 4;
    const size_t len = std::min<size_t>(data[i + 1], size - i - 2);
    const std::span<const uint8_t> b(data + i + 2, len);
    i += 2 + len;
    const Phase before = hs.phase();
    Socks5Handshake::Step step;
    switch (op) {
      case 0: {
        fed.insert(fed.end(), b.begin(), b.end());
        step = hs.OnData(b);
        if (before != Phase::kSocks) {
          Check(step.send.empty() && step.then == Then::kNone && !step.protocol_error);
          break;
        }
        sent.insert(sent.end(), step.send.begin(), step.send.end());
        switch (step.then) {
          case Then::kNone:
            Check(hs.phase() == Phase::kSocks && !step.protocol_error);
            Check(ref.end == Socks5Result::Kind::kNeedMore || fed.size() < ref.request_end);
            break;
          case Then::kOpen:
            Check(hs.phase() == Phase::kOpening && !step.protocol_error);
            Check(ref.end == Socks5Result::Kind::kRequestReady && hs.target() == ref.server.target());
            Check(sent == ref.replies);
            Check(hs.held_bytes() == fed.size() - ref.request_end);
            break;
          case Then::kCloseGracefully:
            Check(hs.phase() == Phase::kClosed && step.protocol_error);
            Check(ref.end == Socks5Result::Kind::kReplyAndClose && sent == ref.replies);
            break;
          case Then::kAbort:
            Check(hs.phase() == Phase::kClosed && step.protocol_error);  // after the greeting's reply, if any
            Check(ref.end == Socks5Result::Kind::kError && sent == ref.replies);
            break;
        }
        if (step.then != Then::kNone) Check(fed.size() >= ref.request_end);
        break;
      }
      case 1:
        step = hs.OnReadClosed();
        Check(step.send.empty() && !step.protocol_error);
        if (before == Phase::kSocks) {
          Check(step.then == Then::kAbort && hs.phase() == Phase::kClosed);
        } else {
          Check(step.then == Then::kNone && hs.phase() == before);
          if (before == Phase::kOpening) eof_in_opening = true;
        }
        break;
      case 2: {
        const Socks5Handshake::Opened o = hs.OnOpened();
        if (before != Phase::kOpening) {
          Check(o.reply.size == 0 && o.held.empty() && !o.eof && hs.phase() == before);
          break;
        }
        Check(hs.phase() == Phase::kPumping && hs.held_bytes() == 0);
        const std::vector<uint8_t> success = {5, 0, 0, 1, 0, 0, 0, 0, 0, 0};
        Check(std::vector<uint8_t>(o.reply.bytes().begin(), o.reply.bytes().end()) == success);
        Check(o.eof == eof_in_opening);
        Check(o.held.size() == fed.size() - ref.request_end &&
              std::equal(o.held.begin(), o.held.end(), fed.begin() + static_cast<ptrdiff_t>(ref.request_end)));
        break;
      }
      case 3: {
        const uint16_t code = b.size() >= 2 ? static_cast<uint16_t>((b[0] << 8) | b[1]) : 0;
        step = hs.OnOpenFailed(static_cast<tunnel::ErrorCode>(code));
        Check(!step.protocol_error);
        if (before != Phase::kOpening) {
          Check(step.send.empty() && step.then == Then::kNone && hs.phase() == before);
          break;
        }
        Check(hs.phase() == Phase::kClosed && step.then == Then::kCloseGracefully && hs.held_bytes() == 0);
        const std::vector<uint8_t> failure = {5, ExpectedRep(code), 0, 1, 0, 0, 0, 0, 0, 0};
        Check(step.send == failure);
        break;
      }
    }
    Check(static_cast<uint8_t>(hs.phase()) >= static_cast<uint8_t>(before));
    Check(!(before == Phase::kClosed || before == Phase::kPumping) || hs.phase() == before);
  }
  // Nothing decided means no complete message or reply was owed beyond what was sent.
  if (hs.phase() == Phase::kSocks) Check(ref.end == Socks5Result::Kind::kNeedMore && sent == ref.replies);
  return 0;
}
