// ResolvConf: `strait device --tun` points the system's resolver at its split-DNS stub (DnsStub) where
// systemd-resolved does not run (docs/device.md, "DNS with --tun"; docs/ip-tunnel.md §5), and puts everything back
// on exit. The path is an option (default /etc/resolv.conf; tests use a temporary directory).
//
//   start   a copy left by a crash (<path>.strait-saved) is put back first (RecoverAndRead)
//           the nameservers of <path> are read: the stub's upstreams for names outside the tunnel's domains
//   take    <path> is hard-linked to <path>.strait-saved (the original file or symlink itself, not a copy), then a
//   over    new file, `nameserver <stub>` plus the original's search/domain/options lines, is written beside it and
//           renamed over <path>: at every instant <path> is either the original or the new file
//   exit    <path>.strait-saved is renamed back over <path> (Restore, or the destructor): a symlink comes back as
//           the same symlink
//
// - Whose file is it. The file written carries a marker comment (kResolvConfMarker). Restore, and the crash
//   recovery, put the saved copy back only while <path> is still that file: if something else (NetworkManager,
//   dhclient, an admin) rewrote it meanwhile, theirs is newer than the saved copy, which is then removed instead.
// - Bind mounts. Where <path> is a mount point (a container's /etc/resolv.conf), renaming onto it fails (EBUSY) and
//   a hard link across it may too (EXDEV): then the original's bytes are saved to <path>.strait-saved as a file,
//   and <path> is rewritten in place, on take-over and on restore.
// - Only IPv4 nameservers become upstreams (the stub is IPv4); at most 3, as glibc reads (MAXNS). IPv6 ones stay in
//   the saved copy and are counted. A file with no IPv4 nameserver is refused before anything is changed.
// Threading: none; setup and shutdown only (blocking file I/O, never on a hot path).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.h"
#include "runtime/net.h"
#include "tunnel/device/dns_forwarder.h"

namespace strait::device {

inline constexpr std::string_view kResolvConfSavedSuffix = ".strait-saved";
inline constexpr std::string_view kResolvConfMarker = "# strait device --tun:";
inline constexpr size_t kResolvConfMaxNameservers = 3;  // glibc's MAXNS

// What a resolv.conf holds, as far as the stub cares.
struct ResolvConfContents {
  std::vector<UdpEndpoint> nameservers;  // IPv4, port 53, in file order, at most kResolvConfMaxNameservers
  size_t skipped_nameservers = 0;        // IPv6, unparsable, or beyond the third
  std::vector<std::string> kept;         // the search, domain and options lines, verbatim
  bool ours = false;                     // it carries kResolvConfMarker: a file this code wrote
};

// Sans-I/O: parses resolv.conf text (comments start with '#' or ';').
ResolvConfContents ParseResolvConf(std::string_view text);
// Sans-I/O: the file that points at the stub: the marker, `nameserver <stub_ip>`, then `contents.kept`.
std::string StubResolvConf(const ResolvConfContents& contents, uint32_t stub_ip, std::string_view saved_path);

class ResolvConf {
 public:
  // Puts back a copy a crashed run left at <path>.strait-saved (only if <path> is still the file that run wrote;
  // else the stale copy is removed), then reads <path>. Fails if <path> cannot be read, or if it is a file this
  // code wrote with no saved copy to put back (the original is lost: fix <path> by hand).
  static Result<ResolvConfContents, std::string> RecoverAndRead(const std::string& path);

  // RecoverAndRead, then the take-over (see the file comment). `stub` is the stub's bound address (IPv4; port 53
  // in production, since resolv.conf has no port). Fails, changing nothing, when <path> has no IPv4 nameserver
  // other than the stub itself.
  static Result<std::unique_ptr<ResolvConf>, std::string> TakeOver(const std::string& path,
                                                                   const runtime::SocketAddress& stub);
  // Restore().
  ~ResolvConf();
  ResolvConf(const ResolvConf&) = delete;
  ResolvConf& operator=(const ResolvConf&) = delete;

  // Puts the original back (see the file comment). Idempotent; the destructor calls it and ignores a failure.
  Result<void, std::string> Restore();

  // The original's contents: its nameservers, less the stub's own address, are the stub's upstreams.
  const ResolvConfContents& original() const { return original_; }
  std::vector<UdpEndpoint> upstreams() const { return original_.nameservers; }
  const std::string& path() const { return path_; }
  std::string saved_path() const { return path_ + std::string(kResolvConfSavedSuffix); }
  // <path> was a mount point: written in place, and restored in place.
  bool in_place() const { return in_place_; }

 private:
  ResolvConf(std::string path, ResolvConfContents original, bool in_place);

  const std::string path_;
  ResolvConfContents original_;
  const bool in_place_;  // <path> could not be renamed over (a mount point): rewritten in place
  bool restored_ = false;
};

}  // namespace strait::device
