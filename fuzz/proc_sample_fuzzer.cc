// proc_sample_fuzzer: bytes into the /proc readers of `strait bench` (bench/suite/proc_sample.h): the stat line's
// CPU fields, the status file's VmRSS and /proc/meminfo's Slab. The kernel writes these files, but a container or a
// future kernel may change them, so they are read as untrusted text.
// Properties: nothing crashes or reads out of bounds; a parsed size is a whole number of KiB; a key not at a line
// start is never found; the same input parses the same way twice.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "bench/suite/proc_sample.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto ticks = strait::bench::ParseStatCpuTicks(text);
  if (ticks != strait::bench::ParseStatCpuTicks(text)) std::abort();
  const auto rss = strait::bench::ParseStatusRss(text);
  if (rss && (*rss % 1024) != 0) std::abort();
  if (rss != strait::bench::ParseKibLine(text, "VmRSS:")) std::abort();
  const auto slab = strait::bench::ParseKibLine(text, "Slab:");
  if (slab && (*slab % 1024) != 0) std::abort();
  // Behind a character that ends no line, the key is not at a line start: never found.
  const std::string shifted = "x" + std::string(text.substr(0, text.find('\n')));
  if (strait::bench::ParseKibLine(shifted, "Slab:")) std::abort();
  return 0;
}
