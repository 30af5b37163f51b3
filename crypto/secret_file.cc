// The atomic file writer and the secret-file mode check (crypto/secret_file.h). Moved here from keystore.cc so that
// strait-control, which links no BoringSSL, writes its keys exactly as `strait keys` does.
#include "crypto/secret_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "crypto/keys.h"

namespace strait::crypto {
namespace {

Failure<FileResultError> Err(FileError code, std::string reason) {
  return Fail(FileResultError{code, std::move(reason)});
}

std::string Errno(std::string_view what, const std::string& path) {
  return fmt::format("{}: {}: {}", path, what, std::strerror(errno));
}

std::string ParentDir(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string BaseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Moves `tmp` to `path`; with kRefuse, atomically fails with EEXIST if `path` exists.
int Publish(const std::string& tmp, const std::string& path, Overwrite overwrite) {
  if (overwrite == Overwrite::kReplace) return ::rename(tmp.c_str(), path.c_str());
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return -1;
  // The filesystem lacks RENAME_NOREPLACE: link() also refuses an existing target atomically.
  if (::link(tmp.c_str(), path.c_str()) != 0) return -1;
  ::unlink(tmp.c_str());
  return 0;
}

}  // namespace

Result<void, FileResultError> WriteFileAtomic(const std::string& path, std::string_view contents, FileAccess access,
                                              Overwrite overwrite) {
  const mode_t mode = access == FileAccess::kSecret ? 0600 : 0644;
  if (overwrite == Overwrite::kRefuse && PathExists(path)) {
    return Err(FileError::kExists, fmt::format("{}: already exists; refusing to overwrite it (--force replaces it)",
                                               path));
  }
  const std::string dir = ParentDir(path);
  std::string tmp;
  int fd = -1;
  for (int attempt = 0; attempt < 16 && fd < 0; ++attempt) {
    std::array<uint8_t, 6> r{};
    RandomBytes(r);
    tmp = fmt::format("{}/.{}.tmp-{:02x}", dir, BaseName(path), fmt::join(r, ""));
    // The mode applies from creation: a secret is never readable by others, not even briefly.
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0 && errno != EEXIST) {
      return Err(errno == ENOENT ? FileError::kNotFound : FileError::kIo,
                 Errno("cannot create a temporary file in the directory", path));
    }
  }
  if (fd < 0) return Err(FileError::kIo, Errno("cannot create a temporary file", path));
  auto fail = [&](std::string what) {
    const std::string reason = Errno(what, path);
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    return Err(FileError::kIo, reason);
  };
  if (!WriteAll(fd, contents)) return fail("write");
  if (::fsync(fd) != 0) return fail("fsync");
  const int close_rc = ::close(fd);
  fd = -1;
  if (close_rc != 0) return fail("close");
  if (Publish(tmp, path, overwrite) != 0) {
    if (errno == EEXIST) {
      ::unlink(tmp.c_str());
      return Err(FileError::kExists,
                 fmt::format("{}: already exists; refusing to overwrite it (--force replaces it)", path));
    }
    return fail("rename");
  }
  // Make the rename durable. A directory that cannot be opened for fsync is not an error worth failing over.
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

Result<void, FileResultError> CheckSecretFileMode(const std::string& path, mode_t st_mode) {
  if ((st_mode & 077) == 0) return {};
  return Err(FileError::kInsecurePermissions,
             fmt::format("{}: secret file is accessible by group or others (mode {:04o}); run: chmod 600 {}", path,
                         static_cast<unsigned>(st_mode & 07777), path));
}

Result<void, FileResultError> EnsurePrivateDirectory(const std::string& path) {
  if (path.empty()) return Err(FileError::kIo, "empty directory path");
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return Err(FileError::kIo, fmt::format("{}: exists and is not a directory", path));
    return {};
  }
  const std::string parent = ParentDir(path);
  if (parent != path && parent != "." && parent != "/") {
    auto r = EnsurePrivateDirectory(parent);
    if (!r) return r;
  }
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return Err(FileError::kIo, Errno("cannot create directory", path));
  }
  return {};
}

bool PathExists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace strait::crypto
