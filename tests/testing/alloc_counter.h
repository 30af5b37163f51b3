// Counts the calling thread's global operator new calls, for the ...NoAlloc tests (derp's idea): a hot function is
// called between two reads of the count, and the test asserts that the count did not move.
//
// Linking alloc_counter.cc into a test binary (the strait_alloc_counter object library, tests/CMakeLists.txt)
// replaces the global operator new and delete, single and array forms, for the whole binary; they allocate with
// malloc, as the default ones do. The count is per thread, so a test is not disturbed by other threads (GoogleTest's
// own, a loop thread) allocating at the same time; the code it measures must run on the test's thread.
#pragma once

#include <cstdint>

namespace strait::testing {

// Global operator new calls (single and array) made by this thread since it started.
std::uint64_t AllocationsOnThisThread();

// Allocations made by this thread between construction and Count().
class AllocationCounter {
 public:
  AllocationCounter() : start_(AllocationsOnThisThread()) {}
  std::uint64_t Count() const { return AllocationsOnThisThread() - start_; }

 private:
  std::uint64_t start_;
};

}  // namespace strait::testing
