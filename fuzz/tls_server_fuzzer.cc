// tls_server_fuzzer: arbitrary bytes from a "client" into a fresh server TlsSession, in two chunks split at the
// first input byte, then once more after the session has failed.
// Property: Receive never crashes, leaks or reads out of bounds; an error always carries a reason.
// Seeds (fuzz/corpus/tls_server/) are real ClientHellos from TlsSession clients.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "crypto/tls_context.h"
#include "crypto/tls_session.h"
#include "crypto/x509_issue.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strait::crypto;  // NOLINT(google-build-using-namespace): fuzzer entry point
  static const TlsContext* ctx = [] {
    const PemCertificate ca = GenerateCa({}).value();
    const PemCertificate leaf = IssueLeafCertificate(ca, {"fuzz", {"localhost"}, {}}).value();
    return new TlsContext(TlsContext::CreateServer({leaf.cert_pem, leaf.key_pem}).value());
  }();
  auto session = TlsSession::Create(*ctx);
  if (!session.ok()) std::abort();
  const std::span<const uint8_t> in(data, size);
  const size_t split = size == 0 ? 0 : data[0] % (size + 1);
  std::vector<uint8_t> plaintext, out;
  for (std::span<const uint8_t> part : {in.first(split), in.subspan(split), in}) {
    auto r = session->Receive(part, plaintext, out);
    if (!r.ok() && r.error().reason.empty()) std::abort();
  }
  return 0;
}
