// Self-describing io_uring user_data (style.md item 10).
//
// Every SQE the runtime submits carries a 64-bit user_data that says what the completion is for, so the event loop
// needs one switch over Op per CQE and no per-operation allocation or lookup table:
//
//    63        56 55                      32 31                                0
//   +------------+--------------------------+----------------------------------+
//   |     op     |  aux (24 bits)           |  slot (32 bits)                  |
//   +------------+--------------------------+----------------------------------+
//
//   op   : which operation completed (enum Op below).
//   slot : index of the connection / listener / timer owner in the loop's preallocated table.
//   aux  : the slot's generation (low 24 bits) for connection and listener ops, so a completion that arrives after
//          its slot was released and reused is recognised as stale and dropped (counted); for zero-copy sends it
//          is the BufRef of the pinned buffer instead (its slot cannot be reused while the notification is
//          outstanding: the slot's in-flight count holds it).
#pragma once

#include <cstdint>

namespace strait::runtime {

enum class Op : std::uint8_t {
  kNone = 0,
  kAccept = 1,      // slot = listener index, aux = listener generation
  kRecv = 2,        // slot = connection, aux = generation (multishot or single-shot)
  kSend = 3,        // slot = connection, aux = generation
  kSendZc = 4,      // slot = connection, aux = BufRef of the pinned buffer (result CQE + notification CQE)
  kConnect = 5,     // slot = connection, aux = generation
  kShutdown = 6,    // slot = connection, aux = generation (shutdown(SHUT_WR))
  kClose = 7,       // slot = connection, aux = generation
  kCancel = 8,      // slot = connection or listener, aux = generation; result of an ASYNC_CANCEL
  kWake = 9,        // eventfd read completed: another thread posted to this loop
  kMsgRing = 10,    // a doorbell another loop posted with IORING_OP_MSG_RING (arrives on the target ring)
  kMsgRingSent = 11,  // completion of our own MSG_RING SQE on the sending ring
  kListenerClose = 12,  // slot = listener index
  kWatch = 13,          // slot = watch index, aux = watch generation (a one-shot POLL_ADD for WatchReadable)
};

inline constexpr std::uint32_t kAuxBits = 24;
inline constexpr std::uint32_t kAuxMask = (1u << kAuxBits) - 1;

struct UserData {
  Op op = Op::kNone;
  std::uint32_t aux = 0;  // 24 bits used
  std::uint32_t slot = 0;
};

constexpr std::uint64_t PackUserData(Op op, std::uint32_t slot, std::uint32_t aux) {
  return (static_cast<std::uint64_t>(op) << 56) | (static_cast<std::uint64_t>(aux & kAuxMask) << 32) | slot;
}

constexpr UserData UnpackUserData(std::uint64_t v) {
  return UserData{static_cast<Op>(v >> 56), static_cast<std::uint32_t>((v >> 32) & kAuxMask),
                  static_cast<std::uint32_t>(v & 0xffffffffu)};
}

static_assert(UnpackUserData(PackUserData(Op::kSend, 0xfedcba98u, 0x123456u)).slot == 0xfedcba98u);
static_assert(UnpackUserData(PackUserData(Op::kSend, 0xfedcba98u, 0x123456u)).aux == 0x123456u);
static_assert(UnpackUserData(PackUserData(Op::kListenerClose, 1, 0xffffffffu)).op == Op::kListenerClose);
static_assert(UnpackUserData(PackUserData(Op::kListenerClose, 1, 0xffffffffu)).aux == kAuxMask);

// Generations are compared modulo 2^24.
constexpr std::uint32_t GenerationTag(std::uint32_t generation) { return generation & kAuxMask; }

}  // namespace strait::runtime
