// Internals of EventLoop shared by its implementation files (event_loop.cc, event_loop_accept.cc,
// event_loop_send.cc). Not part of the runtime's API: include it from nowhere else.
#pragma once

#include <cerrno>
#include <cstdint>

#include "runtime/event_loop.h"
#include "runtime/user_data.h"

namespace strait::runtime {

inline constexpr std::uint32_t kNone = 0xffffffffu;
inline constexpr std::uint64_t kListenerTimerBit = 1ull << 63;

// Zero-copy sends carry their buffer in the 24-bit aux field: pool index in bit 23, buffer id (< 2^16) below.
inline std::uint32_t ZcAux(BufRef ref) { return ((ref >> kBufRefPoolShift) << 23) | (ref & 0xffffu); }
inline BufRef ZcRef(std::uint32_t aux) { return ((aux >> 23) << kBufRefPoolShift) | (aux & 0xffffu); }

inline CloseReason ReasonForErrno(int err) {
  return (err == ECONNRESET || err == EPIPE) ? CloseReason::kPeerReset : CloseReason::kError;
}

// One connection slot. Loop thread only. Preallocated; ~150 bytes; holds no buffers while idle.
struct EventLoop::Conn {
  int fd = -1;
  std::uint32_t gen = 0;
  State state = State::kFree;
  CloseReason close_reason = CloseReason::kLocal;
  int close_err = 0;
  ConnectionHandler* handler = nullptr;
  std::uint64_t tag = 0;
  std::uint32_t inflight = 0;  // SQEs whose last CQE has not arrived (multishot recv, ZC notifications included)
  std::uint32_t send_head = kNilBufRef;  // send queue: intrusive list of BufRefs through the pools' metadata
  std::uint32_t send_tail = kNilBufRef;
  std::uint32_t send_bytes = 0;
  std::uint32_t held_head = kNilBufRef;  // received while paused, delivered on resume
  std::uint32_t held_tail = kNilBufRef;
  BufRef recv_buf = kNilBufRef;          // single-shot recv fallback: buffer the kernel is filling
  std::uint32_t next_free = kNone;
  std::uint32_t starved_prev = kNone;
  std::uint32_t starved_next = kNone;
  TimerId close_timer;
  SocketAddress addr;  // connect target (the kernel reads it until the connect CQE)
  bool recv_armed = false;
  bool recv_multishot = false;
  bool no_hold = false;        // RecvMode::kNoHold: data that arrives while paused goes to OnData, not held
  bool watched = false;        // Watch(): under the forward-progress watchdog
  bool wd_work = false;        // had bytes to move at the last watchdog tick
  std::uint32_t moved = 0;     // bytes received + sent, mod 2^32 (the watchdog compares, never subtracts)
  std::uint32_t wd_moved = 0;  // `moved` at the last watchdog tick
  bool paused = false;
  bool starved = false;
  bool read_eof = false;
  bool eof_pending = false;  // EOF seen while paused / holding data; OnReadClosed after the held data
  bool send_inflight = false;
  bool kick_scheduled = false;  // in kicks_: KickSend at the end of this iteration
  std::uint32_t send_inflight_bufs = 0;  // queued buffers (from the head) the in-flight send covers
  bool above_high = false;
  bool shutdown_requested = false;
  bool shutdown_inflight = false;
  bool shutdown_done = false;
};

struct EventLoop::Listener {
  int fd = -1;
  std::uint32_t gen = 0;
  AcceptHandler* handler = nullptr;
  std::uint32_t inflight = 0;
  TimerId retry;
  bool in_use = false;
  bool armed = false;
  bool closing = false;
};

}  // namespace strait::runtime
