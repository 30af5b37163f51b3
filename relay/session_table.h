// SessionTable: one shard's legs of the relay's sessions, and the relay's rules for a frame that arrives on a link
// (docs/relay.md "Routing rules"; the relay credit of docs/protocol.md §8). Sans-I/O: it knows links only by their
// refs (relay_internal.h) and holds no sockets, no clock and no frames; the shard asks it what a frame means, where
// it goes and when credit is due back, and does the I/O. Fuzzed against a model: fuzz/session_table_fuzzer.cc.
//
// A session has two legs, one per end, each keyed by (channel, role): the device's and the connector's, which may
// sit on the same shard. A leg names its own link and the peer's, and counts the relay credit of its link's side:
//   outstanding  bytes its link sent on the session that the relay has not returned yet (at most
//                kInitialRelayCredit + kRelayCreditSlack, or the link is closed)
//   owed         bytes handed to its link's send side whose credit the peer has not been given yet
//
// Threading: none; the shard's loop thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>

#include "relay/drop_reason.h"
#include "tunnel/frame.h"

namespace strait::relay {

class SessionTable {
 public:
  struct Leg {
    std::uint64_t link = 0;  // the link this leg belongs to
    std::uint64_t peer = 0;  // the other end's link (any shard)
    std::uint32_t outstanding = 0;
    std::uint32_t owed = 0;
  };

  // Credit is returned to a sender once this many of its bytes were handed to the other link (1 ..
  // kInitialRelayCredit / 2).
  explicit SessionTable(std::uint32_t credit_return_bytes) : credit_return_bytes_(credit_return_bytes) {}

  bool Contains(std::uint32_t ch, bool connector) const { return legs_.contains(Key(ch, connector)); }
  // A new leg of `link` on `ch` (replaces one of the same key: ids are unique while a session lives).
  void Add(std::uint32_t ch, bool connector, std::uint64_t link, std::uint64_t peer) {
    legs_[Key(ch, connector)] = Leg{link, peer, 0, 0};
  }
  // The leg of `link` on `ch`, or nullptr (none, or another link's).
  const Leg* Find(std::uint32_t ch, bool connector, std::uint64_t link) const;
  // Removes the leg of `link` on `ch`; returns its peer, or nothing if there was none.
  std::optional<std::uint64_t> Remove(std::uint32_t ch, bool connector, std::uint64_t link);
  std::size_t size() const { return legs_.size(); }

  enum class Action : std::uint8_t {
    kForward,         // to `peer`; a SESSION_CLOSE ends both legs (the shard removes them)
    kSessionRequest,  // a device's SESSION_REQUEST: the shard picks a connector
    kRefuse,          // dropped and counted as `drop`; counts towards the link's max_violations
    kCloseLink,       // the sender broke its relay credit: drop counted as `drop`, and its link is closed
  };
  struct Verdict {
    Action action = Action::kRefuse;
    DropReason drop = DropReason::kUnknownType;
    std::uint64_t peer = 0;
    // A device's SESSION_CLOSE bad_credential: it refused the connector offered (protocol.md §5 step 4).
    bool refused_offer = false;
  };
  // A frame from `link` (a connector's if `connector`) of `frame_bytes` bytes (header + payload). Counts it against
  // the sender's relay credit when it is forwarded.
  Verdict OnFrame(std::uint64_t link, bool connector, const tunnel::FrameHeader& h,
                  std::span<const std::uint8_t> payload, std::size_t frame_bytes);

  struct CreditReturn {
    std::uint64_t to = 0;  // the sender's link
    std::uint32_t channel = 0;
    std::uint32_t amount = 0;
  };
  // A frame of `frame_bytes` went into `link`'s send side: the credit return now due to its sender, if any.
  // Datagrams, SESSION_CREDIT and frames for a leg that is gone return nothing.
  std::optional<CreditReturn> Delivered(std::uint64_t link, bool connector, const tunnel::FrameHeader& h,
                                        std::size_t frame_bytes);
  // `amount` of `link`'s credit on `ch` came back: false if its leg is gone (send it no SESSION_CREDIT).
  bool Credited(std::uint64_t link, bool connector, std::uint32_t ch, std::uint32_t amount);

 private:
  static constexpr std::uint64_t Key(std::uint32_t ch, bool connector) {
    return (static_cast<std::uint64_t>(ch) << 1) | (connector ? 1u : 0u);
  }
  Leg* FindMut(std::uint32_t ch, bool connector, std::uint64_t link);

  const std::uint32_t credit_return_bytes_;
  std::unordered_map<std::uint64_t, Leg> legs_;
};

}  // namespace strait::relay
