// strait-adversary: a hostile client for the adversarial suite (tests/adversary/) and benchmark (bench/adversary/).
// Every mode is bounded in time (--duration) and in count; each prints one summary line "<mode> key=value ..." on
// stdout when it ends (and "<mode> ready ..." once the attack is in place: as many connections established as asked for), progress on stderr.
//
//   flood modes (adversary_flood.cc; raw sockets, one epoll loop, no project library):
//     idle       N TCP connections held silent, each reopened as soon as the target closes it
//     half-open  the same, after the first bytes of a TLS ClientHello (then silence)
//     tls-idle   the same, after a complete TLS 1.3 handshake, never sending HELLO
//   link modes (adversary_links.cc; strait_link's TlsLink, the code a device uses):
//     probe      legitimate logins, P at a time, until N have finished: success count and latency percentiles
//     ping-flood one authenticated link that stops reading and sends PINGs as fast as the link takes them
//     replay     a device session: SESSION_INIT captured, then sent again on a new link to a new offer
//
// A process holds at most 20,000 file descriptors on these machines; a flood spreads its sockets over --sources
// loopback source addresses (127.0.0.2 ..), and a bigger flood is several processes.
#pragma once

#include <netinet/in.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace strait::adversary {

enum class FloodMode : std::uint8_t { kIdle, kHalfOpen, kTlsIdle };

struct FloodOptions {
  FloodMode mode = FloodMode::kIdle;
  sockaddr_in target{};
  std::uint32_t count = 100;           // connections held at once
  std::uint32_t sources = 1;           // source addresses 127.0.0.2 .. 127.0.0.(1+sources)
  std::chrono::milliseconds duration{10000};
  std::uint64_t max_opens = 0;         // connections opened in all (reopens included); 0 = 1,000 x count
  std::string server_name = "localhost";
};
// Runs the flood until --duration; returns the process exit code.
int RunFlood(const FloodOptions& o);

struct LinkToolOptions {
  std::string identity;                // bundle dir (strait keys issue ...)
  std::string target;                  // IP:PORT
  bool direct = false;                 // the target is a connector's Direct Connect listener
  std::string server_name = "127.0.0.1";
  std::uint32_t count = 100;           // probe: logins in all
  std::uint32_t parallel = 4;          // probe: logins in flight (<= the relay's links per credential, 8)
  std::chrono::milliseconds duration{10000};
};
int RunProbe(const LinkToolOptions& o);
int RunPingFlood(const LinkToolOptions& o);
int RunReplay(const LinkToolOptions& o);

}  // namespace strait::adversary
