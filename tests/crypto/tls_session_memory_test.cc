// How much heap one idle, established server TlsSession holds (design.md: under 8 KiB per idle session in all,
// so BoringSSL's share must be well below that).
//
// Method: this executable defines BoringSSL's OPENSSL_memory_* hooks (weak symbols in libcrypto; when the program
// defines them, every OPENSSL_malloc/free goes through them), so it counts the bytes BoringSSL holds in
// malloc_usable_size units (what the allocator really set aside, minus its 8-byte chunk header). BoringSSL's
// record buffers bypass OPENSSL_malloc (plain malloc), so glibc's mallinfo2 delta, which sees everything, is
// printed beside it in non-sanitizer builds; the two agree when no record buffer is held. N pairs
// handshake; after that every client session is freed, then every server session; the second drop divided by N
// is the heap per idle server session. glibc's mallinfo2 gives a cross-check in non-sanitizer builds.
#include <gtest/gtest.h>
#include <malloc.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "crypto/tls_session.h"
#include "tests/crypto/tls_test_util.h"

namespace {
std::atomic<int64_t> g_live_bytes{0};
std::atomic<int64_t> g_live_allocs{0};
}  // namespace

extern "C" {
// NOLINTBEGIN(readability-identifier-naming): names fixed by BoringSSL's crypto/mem.c
void* OPENSSL_memory_alloc(size_t size) {
  void* p = malloc(size);
  if (p != nullptr) {
    g_live_bytes += static_cast<int64_t>(malloc_usable_size(p));
    ++g_live_allocs;
  }
  return p;
}
void OPENSSL_memory_free(void* ptr) {
  if (ptr == nullptr) return;
  const size_t n = malloc_usable_size(ptr);
  g_live_bytes -= static_cast<int64_t>(n);
  --g_live_allocs;
  explicit_bzero(ptr, n);  // BoringSSL's own free cleanses; keep that property
  free(ptr);
}
size_t OPENSSL_memory_get_size(void* ptr) { return malloc_usable_size(ptr); }
// NOLINTEND(readability-identifier-naming)
}

namespace strait::crypto {
namespace {

#if defined(__SANITIZE_ADDRESS__)
#define STRAIT_TLS_ASAN 1
constexpr bool kMallinfoMeaningful = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define STRAIT_TLS_ASAN 1
constexpr bool kMallinfoMeaningful = false;
#else
constexpr bool kMallinfoMeaningful = true;
#endif
#else
constexpr bool kMallinfoMeaningful = true;
#endif

int64_t MallinfoInUse() {
  const struct mallinfo2 mi = mallinfo2();
  return static_cast<int64_t>(mi.uordblks + mi.hblkhd);
}

TEST(TlsSessionMemory, IdleServerSessionHeap) {
  constexpr int kSessions = 256;
  TlsContext server_ctx = testing::TestServerContext();
  TlsContext client_ctx = testing::TestClientContext();
  ASSERT_GT(g_live_allocs.load(), 0) << "BoringSSL did not call the OPENSSL_memory_* hooks";

  std::vector<TlsSession> servers, clients;
  servers.reserve(kSessions);
  clients.reserve(kSessions);
  for (int i = 0; i < kSessions; ++i) {
    servers.push_back(TlsSession::Create(server_ctx).value());
    clients.push_back(TlsSession::Create(client_ctx).value());
    auto r = testing::Handshake(clients.back(), servers.back());
    ASSERT_TRUE(r.ok()) << r.error().reason;
    // One application record each way, so the sessions are past any first-use lazy allocation.
    std::vector<uint8_t> wire, plain, reply;
    ASSERT_TRUE(clients.back().Send(std::vector<uint8_t>(100, 1), wire).ok());
    ASSERT_TRUE(servers.back().Receive(wire, plain, reply).ok());
    wire.clear();
    ASSERT_TRUE(servers.back().Send(std::vector<uint8_t>(100, 2), wire).ok());
    ASSERT_TRUE(clients.back().Receive(wire, plain, reply).ok());
  }

  clients.clear();
  clients.shrink_to_fit();
  const int64_t bytes_before = g_live_bytes.load();
  const int64_t allocs_before = g_live_allocs.load();
  const int64_t mallinfo_before = MallinfoInUse();
  servers.clear();
  const int64_t per_session_bytes = (bytes_before - g_live_bytes.load()) / kSessions;
  const int64_t per_session_allocs = (allocs_before - g_live_allocs.load()) / kSessions;
  const int64_t per_session_mallinfo = (mallinfo_before - MallinfoInUse()) / kSessions;
  // glibc adds an 8-byte header per chunk on top of the usable size.
  const int64_t per_session_heap = per_session_bytes + 8 * per_session_allocs;

  std::printf("idle server TlsSession: %lld bytes usable in %lld BoringSSL allocations, ~%lld bytes of heap",
              static_cast<long long>(per_session_bytes), static_cast<long long>(per_session_allocs),  // NOLINT
              static_cast<long long>(per_session_heap));                                              // NOLINT
  if (kMallinfoMeaningful) {
    std::printf("; mallinfo2 delta %lld bytes", static_cast<long long>(per_session_mallinfo));  // NOLINT
  }
  std::printf(" (N=%d, sizeof(TlsSession)=%zu)\n", kSessions, sizeof(TlsSession));
  RecordProperty("idle_server_session_heap_bytes", static_cast<int>(per_session_heap));

  EXPECT_GT(per_session_bytes, 0);
  // Budget: the whole idle session (TLS + tunnel state) must fit 8 KiB; TLS may take at most 6 KiB of it.
  EXPECT_LT(per_session_heap, 6 * 1024);
}

// mallinfo2 does not see the sanitizer's allocator: this test exists only where it can measure something.
#ifndef STRAIT_TLS_ASAN
// BoringSSL allocates its record buffers with plain malloc (not OPENSSL_malloc, so the hooks above do not see
// them) for each record it seals or opens, and frees them once drained: the price of holding no buffer while
// idle, measured in bench/micro/tls_bench.cc. This pins the "nothing retained" half with mallinfo2.
TEST(TlsSessionMemory, NothingRetainedAfterARecord) {
  testing::TlsPair p;
  ASSERT_TRUE(testing::Handshake(p.client, p.server).ok());
  std::vector<uint8_t> wire, plain, reply;
  wire.reserve(1 << 16);
  plain.reserve(1 << 16);
  const std::vector<uint8_t> data(16384, 7);
  ASSERT_TRUE(p.client.Send(data, wire).ok());  // warm-up: lazily built state, if any
  ASSERT_TRUE(p.server.Receive(wire, plain, reply).ok());
  wire.clear();
  plain.clear();

  const int64_t before = MallinfoInUse();
  ASSERT_TRUE(p.client.Send(data, wire).ok());
  ASSERT_TRUE(p.server.Receive(wire, plain, reply).ok());
  ASSERT_EQ(plain, data);
  EXPECT_EQ(MallinfoInUse(), before);
}
#endif

}  // namespace
}  // namespace strait::crypto
