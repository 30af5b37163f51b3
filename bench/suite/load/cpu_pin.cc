#include "bench/suite/load/cpu_pin.h"

#include <dirent.h>
#include <sched.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace strait::bench {
namespace {

cpu_set_t ToSet(const std::vector<std::uint32_t>& cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (std::uint32_t c : cpus) {
    if (c < CPU_SETSIZE) CPU_SET(c, &set);
  }
  return set;
}

}  // namespace

std::vector<std::uint32_t> AllowedCpus() {
  std::vector<std::uint32_t> out;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return out;
  for (std::uint32_t c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &set)) out.push_back(c);
  }
  return out;
}

Result<void, std::string> PinThisThread(const std::vector<std::uint32_t>& cpus) {
  if (cpus.empty()) return Fail(std::string("no CPU to pin to"));
  const cpu_set_t set = ToSet(cpus);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) {
    return Fail(fmt::format("sched_setaffinity: {}", std::strerror(errno)));
  }
  return {};
}

Result<std::uint32_t, std::string> PinProcess(pid_t pid, const std::vector<std::uint32_t>& cpus) {
  if (cpus.empty()) return Fail(std::string("no CPU to pin to"));
  const std::string dir = fmt::format("/proc/{}/task", pid);
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return Fail(fmt::format("{}: {}", dir, std::strerror(errno)));
  const cpu_set_t set = ToSet(cpus);
  std::uint32_t pinned = 0;
  std::string error;
  while (const dirent* e = readdir(d)) {
    char* end = nullptr;
    const long tid = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || tid <= 0) continue;
    if (sched_setaffinity(static_cast<pid_t>(tid), sizeof(set), &set) == 0) {
      ++pinned;
    } else if (errno != ESRCH) {  // a thread that just exited is not an error
      error = fmt::format("sched_setaffinity({}): {}", tid, std::strerror(errno));
    }
  }
  closedir(d);
  if (!error.empty()) return Fail(std::move(error));
  if (pinned == 0) return Fail(fmt::format("process {} has no thread left to pin", pid));
  return pinned;
}

CpuSplit SplitCpus(const std::vector<std::uint32_t>& allowed) {
  CpuSplit s;
  if (allowed.size() < 2) {
    s.load_cpus = allowed;
    return s;
  }
  s.pinned = true;
  s.relay_cpu = allowed.back();
  s.load_cpus.assign(allowed.begin(), allowed.end() - 1);
  return s;
}

}  // namespace strait::bench
