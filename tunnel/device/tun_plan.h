// What the device's TUN (DeviceTun) changes on its interface when a TUNNEL_CONFIG arrives (docs/ip-tunnel.md §3,
// §5). Sans-I/O: the plan is computed here and carried out with rtnetlink by DeviceTun, so the rules are tested
// without root.
//
// - The first config: address/32, MTU, every route.
// - A later config (a new session, after a relay restart or a reconnect) with the same address, MTU and routes
//   changes nothing: flows inside the tunnel stall and resume. A different address re-addresses the interface
//   (flows break, as they must); a different MTU or route list changes just that.
// - A route that covers an address the device's own link uses (the relay's or the Direct Connect address) is never
//   installed: the link's packets would loop into the tunnel they carry. It is listed in `skipped` for the log.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "tunnel/tunnel_control.h"

namespace strait::device {

// What the interface has now (all zero / empty before the first config).
struct TunState {
  std::uint32_t address = 0;
  std::uint16_t mtu = 0;
  std::vector<tunnel::Ipv4Prefix> routes;  // installed by us
};

struct TunPlan {
  std::uint32_t remove_address = 0;  // nonzero: delete this /32 first
  std::uint32_t add_address = 0;     // nonzero: add this /32
  std::uint16_t set_mtu = 0;         // nonzero: set the MTU
  bool set_up = false;               // bring the link up (first config)
  std::vector<tunnel::Ipv4Prefix> delete_routes;
  std::vector<tunnel::Ipv4Prefix> add_routes;
  std::vector<tunnel::Ipv4Prefix> skipped;  // cover an address in `avoid`: not installed
  bool changes_nothing() const {
    return remove_address == 0 && add_address == 0 && set_mtu == 0 && !set_up && delete_routes.empty() &&
           add_routes.empty();
  }
};

// `avoid`: IPv4 addresses (host order) the device's link dials: the relay, Direct Connect.
TunPlan PlanTunChange(const TunState& now, const tunnel::TunnelConfig& next, std::span<const std::uint32_t> avoid);

// The state after `plan` was carried out in full.
TunState StateAfter(const TunState& now, const TunPlan& plan);

bool PrefixContains(const tunnel::Ipv4Prefix& p, std::uint32_t address);

}  // namespace strait::device
