#include "runtime/tun_device.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace strait::runtime {

namespace {

std::string StepError(std::string_view step, int err) {
  return std::string(step) + ": " + std::strerror(err);
}

// The kernel's text alone does not say what to do about the two common TUNSETIFF failures on a named device.
const char* TunSetIffHint(int err) {
  switch (err) {
    case EBUSY: return " (another process or TunDevice holds this interface)";
    case EINVAL: return " (an interface of another kind has this name?)";
    default: return "";
  }
}

}  // namespace

SetupResult<TunDevice> TunDevice::Open(const TunOptions& options) {
  if (options.name.size() >= IFNAMSIZ) {
    return SetupError{EINVAL, "TUN name " + options.name + ": longer than " + std::to_string(IFNAMSIZ - 1) +
                                  " bytes"};
  }
  TunDevice dev;
  dev.fd_ = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (dev.fd_ < 0) {
    const int e = errno;
    return SetupError{e, StepError("open /dev/net/tun", e)};
  }
  ifreq ifr{};
  // IFF_NO_PI: no 4-byte packet-information prefix; the IP version is in the packet. No IFF_MULTI_QUEUE: a second
  // attach to the same name fails with EBUSY instead of silently sharing the interface.
  ifr.ifr_flags = static_cast<short>(IFF_TUN | IFF_NO_PI | (options.vnet_hdr ? IFF_VNET_HDR : 0));
  std::memcpy(ifr.ifr_name, options.name.data(), options.name.size());
  const std::string shown = options.name.empty() ? std::string("(kernel's pick)") : options.name;
  if (::ioctl(dev.fd_, TUNSETIFF, &ifr) != 0) {
    const int e = errno;
    return SetupError{e, StepError("TUNSETIFF " + shown, e) + TunSetIffHint(e)};
  }
  dev.name_.assign(ifr.ifr_name, ::strnlen(ifr.ifr_name, IFNAMSIZ));
  dev.vnet_hdr_ = options.vnet_hdr;
  if (options.vnet_hdr) {
    int size = static_cast<int>(kVnetHdrSize);
    if (::ioctl(dev.fd_, TUNSETVNETHDRSZ, &size) != 0) {
      const int e = errno;
      return SetupError{e, StepError("TUNSETVNETHDRSZ " + dev.name_, e)};
    }
    if (options.offloads) {
      // TSO4 without CSUM is refused by the kernel; CSUM is what makes TSO possible. Without offloads the kernel
      // segments and checksums before the packet reaches us, which is slower but always correct.
      if (::ioctl(dev.fd_, TUNSETOFFLOAD, static_cast<unsigned long>(TUN_F_CSUM | TUN_F_TSO4)) == 0) {
        dev.offloads_ = TunOffloads::kCsumTso4;
      } else {
        dev.offload_error_ = StepError("TUNSETOFFLOAD csum,tso4 " + dev.name_, errno);
        (void)::ioctl(dev.fd_, TUNSETOFFLOAD, 0UL);  // back to none; it is the default, so a failure changes nothing
      }
    }
  }
  if (!options.ipv6) {
    const std::string setting = "/proc/sys/net/ipv6/conf/" + dev.name_ + "/disable_ipv6";
    if (const int fd = ::open(setting.c_str(), O_WRONLY | O_CLOEXEC); fd >= 0) {
      (void)!::write(fd, "1", 1);
      ::close(fd);
    }
  }
  dev.ifindex_ = static_cast<int>(::if_nametoindex(dev.name_.c_str()));
  if (dev.ifindex_ == 0) {
    const int e = errno;
    return SetupError{e, StepError("if_nametoindex " + dev.name_, e)};
  }
  return dev;
}

TunDevice::TunDevice(TunDevice&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      ifindex_(std::exchange(other.ifindex_, 0)),
      vnet_hdr_(other.vnet_hdr_),
      offloads_(other.offloads_),
      name_(std::move(other.name_)),
      offload_error_(std::move(other.offload_error_)) {}

TunDevice& TunDevice::operator=(TunDevice&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = std::exchange(other.fd_, -1);
    ifindex_ = std::exchange(other.ifindex_, 0);
    vnet_hdr_ = other.vnet_hdr_;
    offloads_ = other.offloads_;
    name_ = std::move(other.name_);
    offload_error_ = std::move(other.offload_error_);
  }
  return *this;
}

void TunDevice::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

long TunDevice::Read(std::span<std::uint8_t> out) const {
  const ssize_t n = ::read(fd_, out.data(), out.size());
  return n < 0 ? -errno : static_cast<long>(n);
}

long TunDevice::Write(std::span<const std::uint8_t> packet) const {
  const ssize_t n = ::write(fd_, packet.data(), packet.size());
  return n < 0 ? -errno : static_cast<long>(n);
}

long TunDevice::WriteWithHeader(std::span<const std::uint8_t> header, std::span<const std::uint8_t> packet) const {
  iovec iov[2] = {{const_cast<std::uint8_t*>(header.data()), header.size()},
                  {const_cast<std::uint8_t*>(packet.data()), packet.size()}};
  const ssize_t n = ::writev(fd_, iov, 2);
  return n < 0 ? -errno : static_cast<long>(n);
}

}  // namespace strait::runtime
