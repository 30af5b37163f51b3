#include "bench/suite/proc_sample.h"

#include <unistd.h>

#include <charconv>
#include <fstream>
#include <sstream>

namespace strait::bench {
namespace {

// The next space-separated field of `s` from *pos, or empty at the end.
std::string_view NextField(std::string_view s, std::size_t* pos) {
  while (*pos < s.size() && s[*pos] == ' ') ++*pos;
  const std::size_t start = *pos;
  while (*pos < s.size() && s[*pos] != ' ' && s[*pos] != '\n') ++*pos;
  return s.substr(start, *pos - start);
}

std::optional<std::uint64_t> ToU64(std::string_view s) {
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

Result<std::string, std::string> ReadProcFile(const std::string& path) {
  std::ifstream f(path);
  if (!f) return Fail("cannot read " + path + " (the process is gone?)");
  std::ostringstream all;
  all << f.rdbuf();
  return all.str();
}

}  // namespace

std::optional<std::uint64_t> ParseStatCpuTicks(std::string_view stat) {
  const std::size_t close = stat.rfind(')');
  if (close == std::string_view::npos || stat.find('(') > close) return std::nullopt;
  // After ") ": field 3 (state) onwards; utime is field 14, stime 15.
  std::size_t pos = close + 1;
  std::optional<std::uint64_t> utime, stime;
  for (int field = 3; field <= 15; ++field) {
    const std::string_view f = NextField(stat, &pos);
    if (f.empty()) return std::nullopt;
    if (field == 14) utime = ToU64(f);
    if (field == 15) stime = ToU64(f);
  }
  if (!utime || !stime) return std::nullopt;
  return *utime + *stime;
}

std::optional<std::uint64_t> ParseKibLine(std::string_view text, std::string_view key) {
  std::size_t at = 0;
  while (true) {
    at = text.find(key, at);
    if (at == std::string_view::npos) return std::nullopt;
    if (at == 0 || text[at - 1] == '\n') break;
    at += key.size();
  }
  std::size_t pos = at + key.size();
  while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
  const std::size_t start = pos;
  while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
  const std::optional<std::uint64_t> kib = ToU64(text.substr(start, pos - start));
  if (!kib || text.substr(pos, 3) != " kB" || *kib > (UINT64_MAX >> 10)) return std::nullopt;
  return *kib << 10;
}

std::optional<std::uint64_t> ParseStatusRss(std::string_view status) { return ParseKibLine(status, "VmRSS:"); }

Result<std::uint64_t, std::string> HostSlabBytes() {
  auto meminfo = ReadProcFile("/proc/meminfo");
  if (!meminfo) return Fail(meminfo.error());
  const std::optional<std::uint64_t> slab = ParseKibLine(*meminfo, "Slab:");
  if (!slab) return Fail(std::string("/proc/meminfo: no Slab line"));
  return *slab;
}

Result<ProcSample, std::string> Sample(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid);
  auto stat = ReadProcFile(dir + "/stat");
  if (!stat) return Fail(stat.error());
  auto status = ReadProcFile(dir + "/status");
  if (!status) return Fail(status.error());
  const std::optional<std::uint64_t> ticks = ParseStatCpuTicks(*stat);
  if (!ticks) return Fail(dir + "/stat: no utime and stime fields");
  const std::optional<std::uint64_t> rss = ParseStatusRss(*status);
  if (!rss) return Fail(dir + "/status: no VmRSS line");
  return ProcSample{.cpu_ticks = *ticks, .rss_bytes = *rss};
}

double CpuSeconds(const ProcSample& before, const ProcSample& after) {
  const std::uint64_t ticks = after.cpu_ticks >= before.cpu_ticks ? after.cpu_ticks - before.cpu_ticks : 0;
  return static_cast<double>(ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace strait::bench
