// DirectGate: what the Direct Connect listener (direct_listener.h) decides about its connections and their frames,
// without I/O (style.md item 1). DirectListener owns the sockets and TLS links, asks the gate, and does what it
// says; the fuzzer (fuzz/direct_gate_fuzzer.cc) and tests/connector/direct_gate_test.cc drive it directly.
//
//   OnAccept(source)         refuse: the source has max_logins_per_source logins in flight (kRefuseSource), or
//                            max_links links not closed to make room (kRefuseFull); else kAccept
//   Admit(link, source)      the link counts (a link and a login in flight); when max_logins were in flight, the
//                            oldest login is returned: the caller closes it (it no longer counts against max_links)
//   OnLinkUp(link, tenant)   the login ended; another tenant: kRefuseTenant (closed with ERROR unauthorized);
//                            ours: kAdmitted, the owner learns of the link
//   OnFrame(link, header)    not admitted: kIgnore; channel 0: SESSION_REQUEST -> kOffer on the next channel
//                            (1, 2, ...: never reused), beyond max_channels_per_link kTooManySessions, a malformed
//                            one kBadRequest, other types kIgnore; a channel never offered: kNeverOffered (close);
//                            an offered channel: kForward to the owner
//   OnLinkDown(link, ...)    forgets the link; says whether the owner knew it and whether a failed login is counted
//
// Bounds a peer can push against: links (max_links), logins in flight (max_logins, per source
// max_logins_per_source), channels per link (max_channels_per_link). Each link costs one map entry here.
// Threading: the listener's loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>

#include "tunnel/frame.h"
#include "tunnel/link/login_budget.h"

namespace strait::connector {

struct DirectGateLimits {
  std::uint32_t max_links = 1024;
  std::uint32_t max_logins = 256;
  std::uint32_t max_logins_per_source = 64;
  std::uint32_t max_channels_per_link = 64;
};

struct DirectGateStats {
  std::uint64_t accepted = 0;
  std::uint64_t refused_full = 0;      // max_links reached
  std::uint64_t refused_source = 0;    // max_logins_per_source reached
  std::uint64_t logins_evicted = 0;    // the oldest login closed to make room (max_logins reached)
  std::uint64_t refused_tenant = 0;    // another tenant's device
  std::uint64_t offers = 0;            // SESSION_OFFERs to send
  std::uint64_t refused_channels = 0;  // SESSION_REQUEST beyond max_channels_per_link (ERROR too_many_sessions)
  std::uint64_t logins_failed = 0;     // logins that ended before HELLO_ACK, not closed by us
};

class DirectGate {
 public:
  explicit DirectGate(const DirectGateLimits& limits);

  enum class AcceptVerdict : std::uint8_t { kAccept, kRefuseSource, kRefuseFull };
  AcceptVerdict OnAccept(std::uint64_t source);
  // A link that OnAccept let in and that started: counts it. Returns the login to close to make room, if any
  // (already marked: it no longer counts against max_links; its OnLinkDown follows).
  std::optional<std::uint64_t> Admit(std::uint64_t link, std::uint64_t source);

  enum class UpVerdict : std::uint8_t { kUnknown, kAdmitted, kRefuseTenant };
  UpVerdict OnLinkUp(std::uint64_t link, bool same_tenant);

  struct FrameVerdict {
    enum class Kind : std::uint8_t {
      kIgnore,           // not admitted, unknown, or a channel-0 frame the connector has nothing to do with
      kOffer,            // send SESSION_OFFER on `channel`
      kTooManySessions,  // send ERROR too_many_sessions on channel 0 (the link stays)
      kBadRequest,       // malformed SESSION_REQUEST: close with protocol_error
      kNeverOffered,     // a frame for a channel never offered: close with protocol_error
      kForward,          // the owner's (SESSION_INIT, sealed frames, SESSION_CLOSE of an offered channel)
    };
    Kind kind = Kind::kIgnore;
    std::uint32_t channel = 0;  // kOffer
  };
  FrameVerdict OnFrame(std::uint64_t link, const tunnel::FrameHeader& header, std::span<const std::uint8_t> payload);

  struct DownVerdict {
    bool known = false;         // the link was counted here
    bool tell_owner = false;    // it had been admitted: the owner gets OnLinkDown
    bool login_failed = false;  // counted in logins_failed (log it)
  };
  // `closed_by_us`: DownReason kLocalClose or kShutdown.
  DownVerdict OnLinkDown(std::uint64_t link, bool was_up, bool closed_by_us);

  // The link passed the tenant check (the owner knows it).
  bool admitted(std::uint64_t link) const;
  std::size_t links() const { return links_.size(); }
  std::size_t counted_links() const { return links_.size() - evicted_; }  // what max_links bounds
  std::size_t logins_in_flight() const { return logins_.in_flight(); }
  const DirectGateStats& stats() const { return stats_; }
  const DirectGateLimits& limits() const { return limits_; }

 private:
  struct LinkState {
    bool admitted = false;            // passed the tenant check; the owner knows it
    bool evicted = false;             // closed to make room for a newer login; gone at its OnLinkDown
    std::uint32_t next_channel = 1;
  };

  const DirectGateLimits limits_;
  std::unordered_map<std::uint64_t, LinkState> links_;
  link::LoginBudget logins_;  // keyed by link while it logs in
  std::size_t evicted_ = 0;   // links in links_ closed to make room
  DirectGateStats stats_;
};

}  // namespace strait::connector
