#include "tunnel/connector/ip_forwarding.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace strait::connector {

Result<bool, std::string> EnableIpForwarding(const std::string& path) {
  // /proc/sys/net answers for the network namespace of the thread that opens it: the connector's.
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return Fail(fmt::format("ip forwarding: cannot open {}: {}", path, std::strerror(errno)));
  char now[4] = {};
  const ssize_t n = ::read(fd, now, sizeof now);
  if (n > 0 && now[0] == '1') {
    ::close(fd);
    return false;
  }
  const ssize_t w = ::pwrite(fd, "1\n", 2, 0);
  const int err = errno;
  ::close(fd);
  if (w != 2) return Fail(fmt::format("ip forwarding: cannot write 1 to {}: {}", path, std::strerror(err)));
  return true;
}

}  // namespace strait::connector
