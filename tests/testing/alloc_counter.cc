// The replacement global operator new/delete behind tests/testing/alloc_counter.h.
#include "tests/testing/alloc_counter.h"

#include <cstddef>
#include <cstdlib>
#include <new>

namespace {
thread_local std::uint64_t t_allocations = 0;
}  // namespace

namespace strait::testing {
std::uint64_t AllocationsOnThisThread() { return t_allocations; }
}  // namespace strait::testing

void* operator new(std::size_t n) {
  ++t_allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
