// What `strait bench` reads about a process it measures (docs/bench.md §2): CPU time (utime + stime of every thread)
// from /proc/PID/stat and the resident set from /proc/PID/status. The parsers take the files' text and do no I/O,
// so they are tested and fuzzed alone (fuzz/proc_sample_fuzzer.cc); Sample() reads the two files and HostSlabBytes()
// /proc/meminfo.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/result.h"

namespace strait::bench {

struct ProcSample {
  std::uint64_t cpu_ticks = 0;  // utime + stime, in clock ticks (sysconf(_SC_CLK_TCK) a second)
  std::uint64_t rss_bytes = 0;  // VmRSS
};

// Fields 14 and 15 of /proc/PID/stat, counted after the parenthesised command name (which may hold spaces and
// parentheses: the last ')' ends it). nullopt when the text is not such a line.
std::optional<std::uint64_t> ParseStatCpuTicks(std::string_view stat);
// The `<key> <n> kB` line of a /proc file (key "VmRSS:" of /proc/PID/status, "Slab:" of /proc/meminfo), in bytes;
// the key only at a line's start. nullopt when absent or malformed (a zombie has no VmRSS).
std::optional<std::uint64_t> ParseKibLine(std::string_view text, std::string_view key);
std::optional<std::uint64_t> ParseStatusRss(std::string_view status);

// The kernel's slab memory on this host (/proc/meminfo "Slab:"), in bytes: where sockets, files and epoll and
// io_uring state live. Host-wide, so a delta over a run includes everything else the host did meanwhile.
Result<std::uint64_t, std::string> HostSlabBytes();

// Reads both files of `pid`. Fails with a message naming the file when the process is gone or a file is malformed.
Result<ProcSample, std::string> Sample(pid_t pid);

// CPU seconds between two samples of one process.
double CpuSeconds(const ProcSample& before, const ProcSample& after);

}  // namespace strait::bench
