#include "control-plane/cli/data_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "crypto/secret_file.h"

namespace strait::control::cli {

DataDir::DataDir(std::string d) : dir(std::move(d)) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  lock = dir + "/.lock";
  secretbox_key = dir + "/secretbox.key";
  root_dir = dir + "/root";
  root_key = root_dir + "/root.key";
  root_pub = root_dir + "/root.pub";
  ca_dir = dir + "/tls-ca";
  ca_pem = ca_dir + "/ca.pem";
  ca_key = ca_dir + "/ca.key";
  tls_dir = dir + "/tls";
  tls_cert = tls_dir + "/cert.pem";
  tls_key = tls_dir + "/key.pem";
  db = dir + "/control.db";
}

Result<DirLock, std::string> DirLock::Take(const DataDir& d) {
  int fd = open(d.lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Fail(fmt::format("{}: {}", d.lock, std::strerror(errno)));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    close(fd);
    return Fail(fmt::format("{} is in use by another strait-control (its .lock is held)", d.dir));
  }
  return DirLock(fd);
}

DirLock::~DirLock() {
  if (fd_ >= 0) close(fd_);
}

Result<std::string, std::string> ReadTextFile(const std::string& path, bool secret, size_t max_bytes) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return Fail(fmt::format("{}: {}", path, std::strerror(errno)));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return Fail(fmt::format("{}: not a regular file", path));
  }
  if (secret) {
    auto mode = crypto::CheckSecretFileMode(path, st.st_mode);
    if (!mode) {
      close(fd);
      return Fail(mode.error().reason);
    }
  }
  if (static_cast<size_t>(st.st_size) > max_bytes) {
    close(fd);
    return Fail(fmt::format("{}: larger than {} bytes", path, max_bytes));
  }
  std::string out(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = read(fd, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  close(fd);
  out.resize(got);
  return out;
}

}  // namespace strait::control::cli
