// One stream of a session: its state machine and its two windows. Owned by StreamMux; the application names a
// stream only by its id.
//
//   device (opener)                               connector (acceptor)
//   Open() ─────────── OPEN ────────────────────▶ kOpening  (OnStreamOpen; the app Accepts or Rejects)
//   kOpening ◀──────── OPEN_OK / RESET ───────── Accept() / Reject()
//   kOpen ◀──────────── DATA, WINDOW both ways ─▶ kOpen
//   CloseWrite(): FIN sent  -> kHalfClosedLocal      FIN received -> kHalfClosedRemote
//   both FINs -> kClosed;  RESET either way -> kReset.  Closed and reset streams are forgotten at once.
#pragma once

#include <cstdint>
#include <string_view>

#include "tunnel/flow_window.h"

namespace strait::tunnel {

enum class StreamState : uint8_t {
  kOpening,           // OPEN sent (device) or received and not yet answered (connector)
  kOpen,              // both directions open
  kHalfClosedLocal,   // we sent FIN; we still receive
  kHalfClosedRemote,  // the peer sent FIN; we still send
  kClosed,            // both FINs (terminal; the stream is then erased)
  kReset,             // RESET sent or received (terminal; erased)
};
std::string_view StreamStateName(StreamState s);

// Transitions, one per event. Each returns the next state; `ok` is false when the event is not allowed in
// `from` (the state is then unchanged).
struct Transition {
  StreamState to;
  bool ok;
};
constexpr Transition OnAccepted(StreamState from) {
  return from == StreamState::kOpening ? Transition{StreamState::kOpen, true} : Transition{from, false};
}
constexpr Transition OnLocalFin(StreamState from) {
  switch (from) {
    case StreamState::kOpen: return {StreamState::kHalfClosedLocal, true};
    case StreamState::kHalfClosedRemote: return {StreamState::kClosed, true};
    default: return {from, false};
  }
}
constexpr Transition OnRemoteFin(StreamState from) {
  switch (from) {
    case StreamState::kOpen: return {StreamState::kHalfClosedRemote, true};
    case StreamState::kHalfClosedLocal: return {StreamState::kClosed, true};
    default: return {from, false};
  }
}
constexpr Transition OnReset(StreamState from) {
  return (from == StreamState::kClosed || from == StreamState::kReset) ? Transition{from, false}
                                                                      : Transition{StreamState::kReset, true};
}
constexpr bool CanSend(StreamState s) { return s == StreamState::kOpen || s == StreamState::kHalfClosedRemote; }
constexpr bool CanReceive(StreamState s) { return s == StreamState::kOpen || s == StreamState::kHalfClosedLocal; }

struct Stream {
  StreamState state = StreamState::kOpening;
  bool write_blocked = false;     // a Write was cut short by credit; OnStreamWritable fires when credit returns
  bool window_queued = false;     // an entry for this stream's WINDOW update is in the control queue
  SendWindow send;                // the peer's receive window for this stream
  RecvWindow recv;                // ours; held = bytes given to the app and not yet Consume()d
};

}  // namespace strait::tunnel
