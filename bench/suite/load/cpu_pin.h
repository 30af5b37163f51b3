// CPU pinning for `strait bench` (docs/bench.md §2, "Relay CPU per login and its floor"): the relay runs alone on
// one CPU and the load on the others, so the generator's cost does not show in the relay's figures.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "crypto/result.h"

namespace strait::bench {

// The CPUs this process may run on (sched_getaffinity), in increasing order.
std::vector<std::uint32_t> AllowedCpus();

// Pins the calling thread to `cpus` (non-empty).
Result<void, std::string> PinThisThread(const std::vector<std::uint32_t>& cpus);

// Pins every thread of process `pid` (each /proc/<pid>/task/<tid>) to `cpus`; threads it starts later inherit the
// affinity of the thread that starts them. Returns how many threads were pinned.
Result<std::uint32_t, std::string> PinProcess(pid_t pid, const std::vector<std::uint32_t>& cpus);

// How the CPUs are split: with two or more, the relay gets the last one and the load the rest; with one, both share
// it (and the report says the relay is not pinned).
struct CpuSplit {
  bool pinned = false;
  std::uint32_t relay_cpu = 0;
  std::vector<std::uint32_t> load_cpus;
};
CpuSplit SplitCpus(const std::vector<std::uint32_t>& allowed);

}  // namespace strait::bench
