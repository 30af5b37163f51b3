// The allocation counter that the ...NoAlloc tests rely on: it must see every allocation of its thread (else a
// NoAlloc test passes while the code allocates) and none of another thread's.
#include "tests/testing/alloc_counter.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace strait::testing {
namespace {

// Where allocated pointers escape to, so the compiler cannot drop a new/delete pair it sees whole.
void* volatile g_sink = nullptr;

TEST(AllocationCounter, CountsSingleAndArrayNew) {
  const AllocationCounter counter;
  auto one = std::make_unique<int>(7);
  g_sink = one.get();
  auto many = std::make_unique<int[]>(16);
  g_sink = many.get();
  EXPECT_EQ(counter.Count(), 2u);
}

TEST(AllocationCounter, CountsContainerGrowth) {
  const AllocationCounter counter;
  std::vector<int> v;
  v.reserve(4);
  g_sink = v.data();
  EXPECT_EQ(counter.Count(), 1u);
  v.resize(1000);  // outgrows the reservation
  g_sink = v.data();
  EXPECT_EQ(counter.Count(), 2u);
  std::string s(200, 'x');  // beyond the small-string buffer
  g_sink = s.data();
  EXPECT_EQ(counter.Count(), 3u);
}

TEST(AllocationCounter, WorkWithoutAllocationCountsNothing) {
  std::vector<int> v;
  v.reserve(64);
  const AllocationCounter counter;
  for (int i = 0; i < 64; ++i) v.push_back(i);
  std::string s = "short";  // fits the small-string buffer
  g_sink = v.data();
  g_sink = s.data();
  EXPECT_EQ(counter.Count(), 0u);
}

TEST(AllocationCounter, AnotherThreadsAllocationsAreNotCounted) {
  // Starting a thread allocates its state on this thread: measure that with a worker that allocates nothing.
  const AllocationCounter idle;
  std::thread([] {}).join();
  const std::uint64_t start_cost = idle.Count();

  std::uint64_t worker = 0;
  const AllocationCounter busy;
  std::thread([&worker] {
    const AllocationCounter mine;
    for (int i = 0; i < 5; ++i) {
      auto p = std::make_unique<int>(i);
      g_sink = p.get();
    }
    worker = mine.Count();
  }).join();
  EXPECT_EQ(worker, 5u);
  EXPECT_EQ(busy.Count(), start_cost);
}

}  // namespace
}  // namespace strait::testing
