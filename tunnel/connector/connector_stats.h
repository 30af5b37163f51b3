// Counters of one connector (loop thread only; read them on the loop thread or after Run() returned). Each
// refusal has a named reason (style.md item 5).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace strait::connector {

// Why a stream OPEN was answered with RESET instead of OPEN_OK.
enum class RefuseReason : std::uint8_t {
  kPolicy,         // refused_by_policy (before or after resolution)
  kDnsFailed,      // dns_failed: the name did not resolve (or to no address)
  kConnectFailed,  // connect_failed: connect(2) failed or could not start
  kTimeout,        // timeout: resolution + connect took longer than ConnectorOptions::open_timeout
  kOverloaded,     // overloaded: the resolver queue was full
};
inline constexpr std::size_t kRefuseReasonCount = 5;
std::string_view RefuseReasonName(RefuseReason r);

struct ConnectorStats {
  std::uint64_t relay_links_up = 0;        // relay logins (each reconnect counts)
  std::uint64_t relay_links_down = 0;      // relay links that went down after logging in
  std::uint64_t relay_login_failures = 0;  // relay dials that never logged in (or whose name did not resolve)
  std::uint64_t direct_links_up = 0;       // Direct Connect logins accepted
  std::uint64_t sessions_up = 0;           // sessions established
  std::uint64_t sessions_refused = 0;      // SESSION_INIT refused (bad credential, session limit, replayed,
                                           // revoked, suspended)
  std::uint64_t sessions_refused_revoked = 0;    // ... of them: the device is revoked or locked (control plane)
  std::uint64_t sessions_refused_suspended = 0;  // ... of them: the tenant is suspended (control plane)
  std::uint64_t sessions_closed_revoked = 0;     // up sessions closed because their device was denied
  std::uint64_t sessions_closed_suspended = 0;   // up sessions closed because the tenant was suspended
  std::uint64_t direct_logins_refused_revoked = 0;  // Direct Connect logins of a denied device (ERROR revoked)
  std::uint64_t relay_links_refused_revoked = 0;    // relay links closed or HELLO_ACKs refused: the relay is revoked
  std::uint64_t revoked_relays_over_bound = 0;      // revoked relay ids not held: max_revoked_relays was reached
  std::uint64_t sessions_active = 0;       // now
  std::uint64_t streams_open = 0;          // now (accepted, not finished)
  std::uint64_t streams_opened = 0;        // OPEN_OK sent
  std::array<std::uint64_t, kRefuseReasonCount> streams_refused{};
  std::uint64_t bytes_to_targets = 0;      // stream bytes written to target sockets (finished streams)
  std::uint64_t bytes_from_targets = 0;    // target bytes sent on streams (finished streams)
  std::uint64_t frames_unknown_channel = 0;  // session frames for no known session (dropped, counted)
  std::uint64_t datagrams_dropped = 0;     // SEALED_DATAGRAM from a session with no tunnel, or none served here
  std::uint64_t tunnel_requests = 0;       // TUNNEL_REQUEST received
  std::uint64_t tunnel_answered = 0;       // ... answered with TUNNEL_CONFIG (an address leased)
  std::uint64_t tunnel_refused_off = 0;    // ... refused: no tunnel served (no pool)
  std::uint64_t tunnel_refused_full = 0;   // ... refused: pool exhausted (overloaded)
  std::uint64_t tunnel_leases = 0;         // now: AddressPool::leases() after the last change
  std::uint64_t tunnel_link_full = 0;      // packets to a device dropped: its link above its pending bound

  std::uint64_t refused(RefuseReason r) const { return streams_refused[static_cast<std::size_t>(r)]; }
};

}  // namespace strait::connector
