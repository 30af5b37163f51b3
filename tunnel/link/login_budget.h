// LoginBudget: which connections a server (a relay shard, a Direct Connect listener) lets log in at once (issue 7,
// attack 1: ~512 idle sockets used to lock every login out of both relay ports). Sans-I/O: the server asks, closes
// what it is told to, and reports when a login ends.
//
//   - A budget per port: the device port and the connector port each have `per_port` logins in flight; a flood on
//     one never costs the other a login.
//   - A cap per source (runtime::SourceKey: an IPv4 address or an IPv6 /64): at most `per_source` of one port's
//     logins come from one source. Beyond it the newest connection from that source is refused.
//   - A full port makes room by closing its oldest login, not by refusing the newest: a real client finishes in
//     milliseconds, so a flood of idle or slow connections churns itself out while real logins get through.
//
// Bounds: at most per_port logins per port are tracked; each costs one list node and two map entries.
// Threading: one per loop (relay shard, Direct Connect listener), on its thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <unordered_map>

namespace strait::link {

enum class LoginPort : std::uint8_t { kDevice, kConnector };

class LoginBudget {
 public:
  LoginBudget(std::uint32_t per_port, std::uint32_t per_source) : per_port_(per_port), per_source_(per_source) {}

  // True when `source` already has per_source logins in flight on `port`: refuse the new connection.
  bool SourceFull(LoginPort port, std::uint64_t source) const;
  // Counts `login` (an opaque id, unique while in flight) from `source` on `port`; the caller checked SourceFull.
  // If the port was full, returns the oldest login on it, which no longer counts: the caller closes it.
  std::optional<std::uint64_t> Admit(LoginPort port, std::uint64_t source, std::uint64_t login);
  // The login ended (up, refused, closed, timed out). Ids not in flight (already evicted) are ignored.
  void Done(std::uint64_t login);

  std::size_t in_flight(LoginPort port) const { return order_[Index(port)].size(); }
  std::size_t in_flight() const { return logins_.size(); }

 private:
  struct Login {
    LoginPort port;
    std::uint64_t source;
    std::list<std::uint64_t>::iterator pos;
  };
  static std::size_t Index(LoginPort p) { return static_cast<std::size_t>(p); }
  static std::uint64_t SourceSlot(LoginPort port, std::uint64_t source) {
    return source ^ (static_cast<std::uint64_t>(port) << 63);  // per port: a device flood leaves connectors' counts
  }

  const std::uint32_t per_port_;
  const std::uint32_t per_source_;
  std::array<std::list<std::uint64_t>, 2> order_;  // per port, oldest first
  std::unordered_map<std::uint64_t, Login> logins_;
  std::unordered_map<std::uint64_t, std::uint32_t> per_source_count_;  // SourceSlot -> logins in flight
};

}  // namespace strait::link
