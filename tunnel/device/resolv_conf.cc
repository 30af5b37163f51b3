#include "tunnel/device/resolv_conf.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "tunnel/device/dns_stub.h"

namespace strait::device {
namespace {

constexpr std::string_view kTmpSuffix = ".strait-tmp";
constexpr size_t kMaxResolvConfSize = 64 * 1024;  // resolv.conf is a few lines; anything bigger is not one

std::string Errno(std::string_view what, const std::string& path) {
  return std::string(what) + " " + path + ": " + std::strerror(errno);
}

// The whole file (through a symlink), at most kMaxResolvConfSize bytes.
Result<std::string, std::string> ReadFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Fail(Errno("read", path));
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::string err = Errno("read", path);
      close(fd);
      return Fail(err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > kMaxResolvConfSize) {
      close(fd);
      return Fail("read " + path + ": larger than 64 KiB, not a resolv.conf");
    }
  }
  close(fd);
  return out;
}

// Writes `text` to `fd` whole, then fsync.
bool WriteAll(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    text.remove_prefix(static_cast<size_t>(n));
  }
  return fsync(fd) == 0;
}

// `text` into a new file `path` (replacing what is there, never following a symlink), mode 0644.
Result<void, std::string> WriteNewFile(const std::string& path, std::string_view text) {
  (void)unlink(path.c_str());
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return Fail(Errno("create", path));
  // 0644 whatever the umask: every user's programs read resolv.conf.
  if (fchmod(fd, 0644) != 0 || !WriteAll(fd, text)) {
    const std::string err = Errno("write", path);
    close(fd);
    (void)unlink(path.c_str());
    return Fail(err);
  }
  close(fd);
  return {};
}

// `text` into the existing file `path`, in place (a mount point cannot be renamed over).
Result<void, std::string> RewriteInPlace(const std::string& path, std::string_view text) {
  const int fd = open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return Fail(Errno("rewrite", path));
  if (!WriteAll(fd, text)) {
    const std::string err = Errno("rewrite", path);
    close(fd);
    return Fail(err);
  }
  close(fd);
  return {};
}

// `text` atomically at `path`: a new file beside it renamed over it. errno is left as rename's on failure.
bool ReplaceAtomically(const std::string& path, std::string_view text, std::string* error) {
  const std::string tmp = path + std::string(kTmpSuffix);
  auto w = WriteNewFile(tmp, text);
  if (!w) {
    *error = w.error();
    return false;
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    *error = Errno("rename over", path);
    (void)unlink(tmp.c_str());
    errno = err;
    return false;
  }
  return true;
}

bool Exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

// Puts <path>.strait-saved back over <path> when <path> is still a file this code wrote; removes it when not.
Result<void, std::string> PutBack(const std::string& path) {
  const std::string saved = path + std::string(kResolvConfSavedSuffix);
  if (!Exists(saved)) return {};
  auto current = ReadFile(path);
  const bool ours = current && ParseResolvConf(*current).ours;
  if (!ours && current) {
    // Rewritten by someone else since: theirs is newer than the copy.
    if (unlink(saved.c_str()) != 0) return Fail(Errno("remove stale", saved));
    return {};
  }
  if (rename(saved.c_str(), path.c_str()) == 0) return {};
  if (errno != EBUSY && errno != EXDEV) return Fail(Errno("restore " + saved + " to", path));
  // A mount point: its bytes back in place.
  auto original = ReadFile(saved);
  if (!original) return Fail(original.error());
  auto w = RewriteInPlace(path, *original);
  if (!w) return w;
  if (unlink(saved.c_str()) != 0) return Fail(Errno("remove", saved));
  return {};
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// The first word of a line and the rest.
std::pair<std::string_view, std::string_view> Keyword(std::string_view line) {
  const size_t end = line.find_first_of(" \t");
  if (end == std::string_view::npos) return {line, {}};
  return {line.substr(0, end), Trim(line.substr(end))};
}

}  // namespace

ResolvConfContents ParseResolvConf(std::string_view text) {
  ResolvConfContents c;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    const std::string_view raw = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (raw.starts_with(kResolvConfMarker)) c.ours = true;
    const std::string_view line = Trim(raw);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    const auto [key, value] = Keyword(line);
    if (key == "nameserver") {
      const std::string address(Keyword(value).first);
      in_addr a{};
      if (c.nameservers.size() < kResolvConfMaxNameservers && inet_pton(AF_INET, address.c_str(), &a) == 1) {
        c.nameservers.push_back(UdpEndpoint{ntohl(a.s_addr), 53});
      } else {
        ++c.skipped_nameservers;
      }
    } else if (key == "search" || key == "domain" || key == "options") {
      c.kept.emplace_back(line);
    }
  }
  return c;
}

std::string StubResolvConf(const ResolvConfContents& contents, uint32_t stub_ip, std::string_view saved_path) {
  in_addr a{};
  a.s_addr = htonl(stub_ip);
  char ip[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &a, ip, sizeof ip);
  std::string out(kResolvConfMarker);
  out += " names go to its DNS stub; the original is ";
  out += saved_path;
  out += " and comes back when the device stops.\n";
  out += "nameserver ";
  out += ip;
  out += '\n';
  for (const std::string& line : contents.kept) {
    out += line;
    out += '\n';
  }
  return out;
}

Result<ResolvConfContents, std::string> ResolvConf::RecoverAndRead(const std::string& path) {
  auto put_back = PutBack(path);
  if (!put_back) return Fail("resolv.conf: " + put_back.error());
  auto text = ReadFile(path);
  if (!text) return Fail("resolv.conf: " + text.error());
  ResolvConfContents c = ParseResolvConf(*text);
  if (c.ours) {
    return Fail("resolv.conf: " + path + " was written by strait and its saved original is gone; restore it by hand");
  }
  return c;
}

ResolvConf::ResolvConf(std::string path, ResolvConfContents original, bool in_place)
    : path_(std::move(path)), original_(std::move(original)), in_place_(in_place) {}

Result<std::unique_ptr<ResolvConf>, std::string> ResolvConf::TakeOver(const std::string& path,
                                                                      const runtime::SocketAddress& stub) {
  const auto stub_at = ToUdpEndpoint(stub);
  if (!stub_at) return Fail("resolv.conf: the stub's address " + stub.ToString() + " is not IPv4");
  auto contents = RecoverAndRead(path);
  if (!contents) return Fail(contents.error());
  ResolvConfContents original = std::move(*contents);
  std::erase_if(original.nameservers, [&](const UdpEndpoint& n) { return n.ip == stub_at->ip; });
  if (original.nameservers.empty()) {
    return Fail("resolv.conf: " + path + " lists no IPv4 nameserver for the stub to use; left unchanged");
  }
  const std::string saved = path + std::string(kResolvConfSavedSuffix);
  const std::string text = StubResolvConf(original, stub_at->ip, saved);

  // Save: a hard link to the original itself (a symlink stays a symlink), else a copy of its bytes.
  bool saved_is_link = linkat(AT_FDCWD, path.c_str(), AT_FDCWD, saved.c_str(), 0) == 0;
  auto copy_original = [&]() -> Result<void, std::string> {
    auto bytes = ReadFile(path);
    if (!bytes) return Fail("resolv.conf: " + bytes.error());
    std::string error;
    if (!ReplaceAtomically(saved, *bytes, &error)) return Fail("resolv.conf: " + error);
    return {};
  };
  if (!saved_is_link) {
    auto c = copy_original();
    if (!c) return Fail(c.error());
  }

  // Install: renamed over <path>, or, on a mount point, written in place.
  std::string error;
  if (ReplaceAtomically(path, text, &error)) {
    return std::unique_ptr<ResolvConf>(new ResolvConf(path, std::move(original), false));
  }
  if (errno == EBUSY || errno == EXDEV) {
    if (saved_is_link) {
      // The link shares <path>'s inode, which is about to be rewritten: keep a copy of the bytes instead.
      (void)unlink(saved.c_str());
      auto c = copy_original();
      if (!c) return Fail(c.error());
    }
    auto w = RewriteInPlace(path, text);
    if (w) return std::unique_ptr<ResolvConf>(new ResolvConf(path, std::move(original), true));
    error = w.error();
  }
  (void)unlink(saved.c_str());  // <path> is untouched: nothing to restore
  return Fail("resolv.conf: " + error);
}

ResolvConf::~ResolvConf() { (void)Restore(); }

Result<void, std::string> ResolvConf::Restore() {
  if (restored_) return {};
  auto r = PutBack(path_);
  if (!r) return Fail("resolv.conf: " + r.error());
  restored_ = true;
  return {};
}

}  // namespace strait::device
