// ResolvedLink: per-link DNS for `strait device --tun` where systemd-resolved runs (docs/device.md, "DNS with
// --tun"; docs/ip-tunnel.md §5): the tunnel's servers and its domains as routing-only domains ("~corp.example") on
// the TUN interface, so resolved sends names under them to those servers, through the tunnel, and every other name
// where it did before. No stub, no resolv.conf change.
//
//   Apply    resolvectl dns IFNAME SERVER...             the tunnel's internal resolvers
//            resolvectl domain IFNAME ~DOMAIN...         routing-only: they pick the link, they are not searched
//            resolvectl default-route IFNAME false       never the link for names outside the domains
//   Update   the same three with a new TUNNEL_CONFIG's lists
//   Revert   resolvectl revert IFNAME                    (also in the destructor)
//
// The settings belong to the link and go with it: when the device exits, or crashes, and its non-persistent TUN
// interface disappears, resolved forgets them; Revert is for a device that keeps the interface but drops the tunnel.
// resolvectl runs through posix_spawnp (no shell; found on PATH, or the path given), stdin/stdout on /dev/null, its
// stderr kept for the error message; each run is bounded by `timeout`, then killed.
// Threading: none; setup and shutdown only (each call blocks until resolvectl exits: never on the loop thread
// while it carries traffic, or accept that the loop stalls for up to `timeout`).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "crypto/result.h"

namespace strait::device {

struct ResolvedLinkOptions {
  std::string resolvectl = "resolvectl";             // program name (PATH) or path
  std::string runtime_dir = "/run/systemd/resolve";  // where resolved's io.systemd.Resolve socket lives
  std::chrono::milliseconds timeout{5000};           // per resolvectl run
};

// True where systemd-resolved runs: <runtime_dir>/io.systemd.Resolve exists, or `resolvectl status` exits 0.
bool SystemdResolvedRuns(const ResolvedLinkOptions& options = {});

// Sans-I/O: the resolvectl argument lists (program name first) that Apply/Update run, in order.
std::vector<std::vector<std::string>> ResolvedLinkCommands(const std::string& ifname,
                                                           std::span<const uint32_t> servers,
                                                           std::span<const std::string> domains);

// Runs `argv` (argv[0] looked up on PATH) and waits at most `timeout`. Ok when it exits 0; else the reason
// ("resolvectl dns strait0 10.20.0.53: exit 1: Failed to set DNS configuration: ...").
Result<void, std::string> RunCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);

class ResolvedLink {
 public:
  // Sets the link's DNS (see the file comment). On failure the link is reverted before returning.
  static Result<std::unique_ptr<ResolvedLink>, std::string> Apply(const std::string& ifname,
                                                                  std::span<const uint32_t> servers,
                                                                  std::span<const std::string> domains,
                                                                  const ResolvedLinkOptions& options = {});
  // Revert(), ignoring a failure (the link may be gone already, which reverts it too).
  ~ResolvedLink();
  ResolvedLink(const ResolvedLink&) = delete;
  ResolvedLink& operator=(const ResolvedLink&) = delete;

  // A new TUNNEL_CONFIG's servers and domains.
  Result<void, std::string> Update(std::span<const uint32_t> servers, std::span<const std::string> domains);
  // `resolvectl revert IFNAME`. Idempotent.
  Result<void, std::string> Revert();

  const std::string& ifname() const { return ifname_; }

 private:
  ResolvedLink(std::string ifname, ResolvedLinkOptions options);

  const std::string ifname_;
  const ResolvedLinkOptions options_;
  bool reverted_ = false;
};

}  // namespace strait::device
