// In-memory two-endpoint TLS builders for tests, fuzzers and benchmarks: a throwaway PKI generated once per
// process, contexts from it, and a handshake that shuttles bytes between two TlsSessions.
#pragma once

#include <string>
#include <vector>

#include "crypto/tls_context.h"
#include "crypto/tls_session.h"
#include "crypto/x509_issue.h"

namespace strait::crypto::testing {

struct TestPki {
  PemCertificate ca;
  PemCertificate leaf;  // localhost, 127.0.0.1, signed by ca
};

// Generated on first use; lives for the process.
inline const TestPki& SharedTestPki() {
  static const TestPki* pki = [] {
    auto* p = new TestPki;
    p->ca = GenerateCa({}).value();
    p->leaf = IssueLeafCertificate(p->ca, {"strait-test", {"localhost"}, {"127.0.0.1"}}).value();
    return p;
  }();
  return *pki;
}

inline TlsContext TestServerContext() {
  const TestPki& pki = SharedTestPki();
  return TlsContext::CreateServer({pki.leaf.cert_pem, pki.leaf.key_pem}).value();
}

inline TlsContext TestClientContext(std::string_view server_name = "localhost") {
  return TlsContext::CreateClient({SharedTestPki().ca.cert_pem, server_name}).value();
}

// Runs the handshake to completion by passing each side's output to the other, `chunk` bytes at a time (0: all
// at once). Returns the first error either side reports.
inline Result<void, TlsResultError> Handshake(TlsSession& client, TlsSession& server, size_t chunk = 0) {
  std::vector<uint8_t> to_server, to_client, plaintext;
  if (auto r = client.Start(to_server); !r) return r;
  if (auto r = server.Start(to_client); !r) return r;
  auto feed = [chunk, &plaintext](TlsSession& s, std::vector<uint8_t>& in,
                                  std::vector<uint8_t>& out) -> Result<void, TlsResultError> {
    std::vector<uint8_t> pending;
    pending.swap(in);
    const size_t step = chunk == 0 ? pending.size() : chunk;
    for (size_t off = 0; off < pending.size(); off += step) {
      const size_t n = std::min(step, pending.size() - off);
      if (auto r = s.Receive(std::span(pending).subspan(off, n), plaintext, out); !r) return r;
    }
    return {};
  };
  for (int round = 0; round < 16; ++round) {
    if (client.handshake_complete() && server.handshake_complete() && to_server.empty() && to_client.empty()) {
      return {};
    }
    if (auto r = feed(server, to_server, to_client); !r) return r;
    if (auto r = feed(client, to_client, to_server); !r) return r;
  }
  return Fail(TlsResultError{TlsError::kInternal, "handshake did not finish in 16 rounds"});
}

struct TlsPair {
  TlsContext server_ctx = TestServerContext();
  TlsContext client_ctx = TestClientContext();
  TlsSession server = TlsSession::Create(server_ctx).value();
  TlsSession client = TlsSession::Create(client_ctx).value();
};

}  // namespace strait::crypto::testing
