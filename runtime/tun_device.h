// TunDevice: a Linux TUN interface (layer 3, no packet-information prefix) opened for the IP tunnel
// (docs/ip-tunnel.md §5, §6; docs/runtime.md "TUN devices and netlink"). Setup path only: Open and Close are
// system calls; the loops read and write fd() themselves (io_uring later). Read/Write are plain read(2)/write(2)
// for tests and tools.
//
// The device is never persistent (no TUNSETPERSIST): the kernel deletes the interface, its addresses and its
// routes when the last fd closes, so a process that crashes leaves nothing behind.
//
// With vnet_hdr every packet read or written is preceded by a 10-byte struct virtio_net_hdr (kVnetHdrSize), in
// the host's byte order (little-endian on every machine we build for; TUN follows the host unless TUNSETVNETLE/BE):
//
//   0        1          2           4           6            8             10
//   +--------+----------+-----------+-----------+------------+-------------+---------- - -
//   | flags  | gso_type | hdr_len   | gso_size  | csum_start | csum_offset | IPv4 packet
//   +--------+----------+-----------+-----------+------------+-------------+---------- - -
//   flags: VIRTIO_NET_HDR_F_NEEDS_CSUM (1): the L4 checksum is partial; complete it from csum_start, store it at
//          csum_start + csum_offset. gso_type: VIRTIO_NET_HDR_GSO_NONE (0), _TCPV4 (1); for TCPV4 the packet is up
//          to 64 KiB of TCP to split into gso_size-byte segments, hdr_len bytes of headers each.
//
// We use the 10-byte header, not the 12-byte virtio_net_hdr_v1 (which adds num_buffers): num_buffers only means
// something with VIRTIO_NET_F_MRG_RXBUF, which TUN never uses, and 10 is what the kernel (and wireguard-go) use
// by default. Open still sets it explicitly with TUNSETVNETHDRSZ so the layout does not depend on a default.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "runtime/setup_error.h"

namespace strait::runtime {

// <linux/virtio_net.h> does not compile as C++ (a field named `class`), so its layout and values are restated here.
inline constexpr std::size_t kVnetHdrSize = 10;  // sizeof(struct virtio_net_hdr); see the diagram above
inline constexpr std::size_t kVnetHdrGsoTypeOffset = 1;
inline constexpr std::uint8_t kVnetHdrFlagNeedsCsum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
inline constexpr std::uint8_t kVnetHdrGsoNone = 0;        // VIRTIO_NET_HDR_GSO_NONE
inline constexpr std::uint8_t kVnetHdrGsoTcpv4 = 1;       // VIRTIO_NET_HDR_GSO_TCPV4

struct TunOptions {
  // The interface name ("strait0"); at most 15 bytes. Empty: the kernel picks one (tun0, tun1, ...) and name()
  // reports it.
  std::string name;
  // IFF_VNET_HDR: each packet carries the virtio_net_hdr above. Needed for the offloads.
  bool vnet_hdr = false;
  // With vnet_hdr: ask for TUN_F_CSUM | TUN_F_TSO4 (partial checksums, TCP segments up to 64 KiB). A kernel that
  // refuses is not an error: the device runs without offloads and offload_error() says why.
  bool offloads = true;
  // The tunnel carries IPv4: Open turns IPv6 off on the interface (net.ipv6.conf.<name>.disable_ipv6), so the
  // kernel sends no router solicitations or other IPv6 into it. Best effort: a kernel without IPv6 has no such
  // setting.
  bool ipv6 = false;
};

// What TUNSETOFFLOAD achieved.
enum class TunOffloads : std::uint8_t {
  kNone,      // no offloads: every packet is a complete IPv4 packet with its checksums
  kCsumTso4,  // TUN_F_CSUM | TUN_F_TSO4
};

class TunDevice {
 public:
  // Opens /dev/net/tun (O_RDWR | O_NONBLOCK | O_CLOEXEC) and attaches it with TUNSETIFF as an IFF_TUN | IFF_NO_PI
  // interface (| IFF_VNET_HDR) in the calling thread's network namespace. The interface is created down, without
  // address or MTU (see netlink.h). Errors name the step and the kernel's text, with the errno in err:
  //   "open /dev/net/tun: No such file or directory"   (no tun module / device node)
  //   "TUNSETIFF strait0: Operation not permitted"     (no CAP_NET_ADMIN)
  //   "TUNSETIFF strait0: Device or resource busy (another process or TunDevice holds this interface)"
  //   "TUNSETIFF strait0: Invalid argument (an interface of another kind has this name?)"
  // [any]
  static SetupResult<TunDevice> Open(const TunOptions& options);

  TunDevice() = default;
  TunDevice(TunDevice&& other) noexcept;
  TunDevice& operator=(TunDevice&& other) noexcept;
  TunDevice(const TunDevice&) = delete;
  TunDevice& operator=(const TunDevice&) = delete;
  ~TunDevice() { Close(); }

  // Closes the fd; the kernel then removes the interface with its addresses and routes. Idempotent.
  void Close();

  bool is_open() const { return fd_ >= 0; }
  int fd() const { return fd_; }                     // non-blocking; owned by this object
  const std::string& name() const { return name_; }  // the real name (the kernel's pick when options.name was empty)
  int ifindex() const { return ifindex_; }
  bool vnet_hdr() const { return vnet_hdr_; }
  TunOffloads offloads() const { return offloads_; }
  // Why offloads are kNone although they were asked for ("TUNSETOFFLOAD csum,tso4: Invalid argument"); empty
  // otherwise.
  const std::string& offload_error() const { return offload_error_; }

  // One packet (with its virtio_net_hdr in vnet_hdr mode) per call: read(2) / write(2) on fd(). Return the byte
  // count, or -errno (-EAGAIN when nothing is queued: the fd is non-blocking).
  long Read(std::span<std::uint8_t> out) const;
  long Write(std::span<const std::uint8_t> packet) const;
  // vnet_hdr mode: one packet written behind `header` (kVnetHdrSize bytes) with writev(2), so the packet need not
  // have room in front of it. Returns the bytes written (header included), or -errno.
  long WriteWithHeader(std::span<const std::uint8_t> header, std::span<const std::uint8_t> packet) const;

 private:
  int fd_ = -1;
  int ifindex_ = 0;
  bool vnet_hdr_ = false;
  TunOffloads offloads_ = TunOffloads::kNone;
  std::string name_;
  std::string offload_error_;
};

}  // namespace strait::runtime
