// bench/suite/proc_sample.h: the /proc/PID/stat and status parsers, and a real sample of this process.
#include "bench/suite/proc_sample.h"

#include <unistd.h>

#include <gtest/gtest.h>

namespace strait::bench {
namespace {

TEST(ProcSample, StatFieldsCountFromTheLastParenthesis) {
  // A command name with spaces and parentheses: only the last ')' ends it. utime 1234, stime 56.
  const std::string stat =
      "4242 (strait (relay) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 1234 56 0 0 20 0 3 0 100 1000000 2000 "
      "18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 17 1 0 0 0 0 0\n";
  EXPECT_EQ(ParseStatCpuTicks(stat), 1290u);
}

TEST(ProcSample, StatRefusesWhatIsNotAStatLine) {
  EXPECT_FALSE(ParseStatCpuTicks(""));
  EXPECT_FALSE(ParseStatCpuTicks("4242 (x S 1 2 3"));  // no ')'
  EXPECT_FALSE(ParseStatCpuTicks("4242 (x) S 1 4242 4242 0 -1 4194560 1000 0 0 0"));  // ends before utime
  EXPECT_FALSE(ParseStatCpuTicks("4242 (x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 12x 56 0"));
  EXPECT_FALSE(ParseStatCpuTicks("4242 (x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 -5 56 0"));
  EXPECT_FALSE(ParseStatCpuTicks(")x( S 1 4242 4242 0 -1 4194560 1000 0 0 0 1 56 0"));  // '(' after ')'
}

TEST(ProcSample, StatusRssInBytes) {
  EXPECT_EQ(ParseStatusRss("Name:\tstrait\nVmPeak:\t  9000 kB\nVmRSS:\t    2048 kB\nThreads:\t3\n"), 2048u * 1024);
  EXPECT_FALSE(ParseStatusRss("Name:\tstrait\nThreads:\t3\n"));     // a zombie has no VmRSS
  EXPECT_FALSE(ParseStatusRss("VmRSS:\t  12 MB\n"));               // another unit
  EXPECT_FALSE(ParseStatusRss("XVmRSS:\t  12 kB\n"));              // not at a line start
  EXPECT_FALSE(ParseStatusRss("VmRSS:\t 99999999999999999999 kB\n"));  // out of range
}

TEST(ProcSample, MeminfoSlabInBytes) {
  const char* meminfo = "MemTotal:       24590000 kB\nSReclaimable:     100 kB\nSlab:             123456 kB\n";
  EXPECT_EQ(ParseKibLine(meminfo, "Slab:"), 123456ull * 1024);
  EXPECT_FALSE(ParseKibLine("NotSlab:     100 kB\n", "Slab:"));  // the key only at a line start
  auto host = HostSlabBytes();
  ASSERT_TRUE(host) << host.error();
  EXPECT_GT(*host, 0u);
}

TEST(ProcSample, SamplesThisProcess) {
  auto before = Sample(getpid());
  ASSERT_TRUE(before.ok()) << before.error();
  EXPECT_GT(before->rss_bytes, 1u << 20) << "a gtest binary holds more than 1 MiB";
  volatile std::uint64_t spin = 0;
  const long tick_ns = 1'000'000'000L / sysconf(_SC_CLK_TCK);
  const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(3 * tick_ns);
  while (std::chrono::steady_clock::now() < until) spin = spin + 1;  // bounded: three clock ticks of CPU at most
  auto after = Sample(getpid());
  ASSERT_TRUE(after.ok());
  EXPECT_GE(after->cpu_ticks, before->cpu_ticks);
  EXPECT_GE(CpuSeconds(*before, *after), 0.0);
  EXPECT_EQ(CpuSeconds(*after, *before), 0.0) << "never negative";
}

TEST(ProcSample, AProcessThatIsGoneIsAClearError) {
  auto s = Sample(0x3fffffff);  // above pid_max
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().find("/proc/"), std::string::npos) << s.error();
}

}  // namespace
}  // namespace strait::bench
