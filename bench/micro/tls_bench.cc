// TLS 1.3 record throughput through the sans-I/O TlsSession (crypto/tls_session.h): client Send (seal) then
// server Receive (open) of one write of 1, 4 or 16 KiB, against two same-run baselines over the same bytes:
//   * bare EVP_AEAD AES-128-GCM seal + open (the cipher the handshake negotiates; checked below), and
//   * one memcpy, to read off what the session's copies cost. The session path copies the data four times
//     besides the AEAD: window BIO -> network vector on send; network span -> BoringSSL read buffer, read buffer
//     -> stack chunk, stack chunk -> plaintext vector on receive.
// Method: bench/README.md. Report: bytes/s medians of 5 repetitions and the ratio TlsSealOpen / AeadSealOpen.
#include <benchmark/benchmark.h>
#include <openssl/aead.h>
#include <openssl/ssl.h>

#include <cstring>
#include <vector>

#include "crypto/keys.h"
#include "crypto/tls_session.h"
#include "tests/crypto/tls_test_util.h"

namespace strait::crypto {
namespace {

std::vector<uint8_t> Payload(size_t n) {
  std::vector<uint8_t> b(n);
  RandomBytes(b);
  return b;
}

void BM_TlsSealOpen(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  testing::TlsPair p;
  if (!testing::Handshake(p.client, p.server).ok()) {
    state.SkipWithError("handshake failed");
    return;
  }
  const std::vector<uint8_t> data = Payload(size);
  std::vector<uint8_t> wire, plain, reply;
  wire.reserve(size + 1024);
  plain.reserve(size);
  for (auto _ : state) {
    wire.clear();
    plain.clear();
    if (!p.client.Send(data, wire).ok() || !p.server.Receive(wire, plain, reply).ok() || plain.size() != size) {
      state.SkipWithError("record failed");
      break;
    }
    benchmark::DoNotOptimize(plain.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(size));
  state.SetLabel(SSL_CIPHER_standard_name(SSL_get_current_cipher(p.server.native_handle())));
}
BENCHMARK(BM_TlsSealOpen)->Arg(1024)->Arg(4096)->Arg(16384);

void BM_AeadSealOpen(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  uint8_t key[16];
  RandomBytes(key);
  bssl::ScopedEVP_AEAD_CTX ctx;
  if (!EVP_AEAD_CTX_init(ctx.get(), EVP_aead_aes_128_gcm(), key, sizeof key, EVP_AEAD_DEFAULT_TAG_LENGTH,
                         nullptr)) {
    state.SkipWithError("EVP_AEAD_CTX_init failed");
    return;
  }
  const std::vector<uint8_t> data = Payload(size);
  std::vector<uint8_t> sealed(size + EVP_AEAD_max_overhead(EVP_aead_aes_128_gcm()));
  std::vector<uint8_t> opened(size);
  uint8_t nonce[12] = {};
  const uint8_t ad[5] = {0x17, 0x03, 0x03, 0, 0};  // a TLS 1.3 record header's worth of AD
  uint64_t counter = 0;
  for (auto _ : state) {
    std::memcpy(nonce + 4, &++counter, sizeof counter);
    size_t sealed_len = 0, opened_len = 0;
    if (!EVP_AEAD_CTX_seal(ctx.get(), sealed.data(), &sealed_len, sealed.size(), nonce, sizeof nonce,
                           data.data(), size, ad, sizeof ad) ||
        !EVP_AEAD_CTX_open(ctx.get(), opened.data(), &opened_len, opened.size(), nonce, sizeof nonce,
                           sealed.data(), sealed_len, ad, sizeof ad)) {
      state.SkipWithError("AEAD failed");
      break;
    }
    benchmark::DoNotOptimize(opened.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(size));
}
BENCHMARK(BM_AeadSealOpen)->Arg(1024)->Arg(4096)->Arg(16384);

void BM_Memcpy(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  const std::vector<uint8_t> data = Payload(size);
  std::vector<uint8_t> dst(size);
  for (auto _ : state) {
    std::memcpy(dst.data(), data.data(), size);
    benchmark::ClobberMemory();
    benchmark::DoNotOptimize(dst.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(size));
}
BENCHMARK(BM_Memcpy)->Arg(1024)->Arg(4096)->Arg(16384);

}  // namespace
}  // namespace strait::crypto
