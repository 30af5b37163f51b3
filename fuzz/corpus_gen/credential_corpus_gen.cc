// Writes the seed corpora for credential_fuzzer and tls_server_fuzzer. Run once; the outputs are committed.
// Not part of the CMake build (the fuzz/ glob takes only *_fuzzer.cc). Build (one command) and run against a
// normal build, from the repository root:
//
//   g++ -std=c++20 -O1 -I. -isystem /usr/include/android fuzz/corpus_gen/credential_corpus_gen.cc
//       build/crypto/libstrait_crypto.a -lsodium -lfmt -L/usr/lib/x86_64-linux-gnu/android -lssl -lcrypto
//       -Wl,-rpath,/usr/lib/x86_64-linux-gnu/android -o /tmp/credential_corpus_gen
//   /tmp/credential_corpus_gen fuzz/corpus
#include <cstdio>
#include <string>
#include <vector>

#include "crypto/credential.h"
#include "crypto/tls_context.h"
#include "crypto/tls_session.h"
#include "crypto/x509_issue.h"
#include "fuzz/credential_fuzz_keys.h"

namespace {

using strait::crypto::Ed25519KeyPair;
using strait::fuzz::kFuzzNow;

void Write(const std::string& path, const std::vector<uint8_t>& b) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || std::fwrite(b.data(), 1, b.size(), f) != b.size() || std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace strait::crypto;  // NOLINT(google-build-using-namespace)
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <fuzz/corpus dir>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const Ed25519KeyPair root = strait::fuzz::FuzzRootKey();
  const Ed25519KeyPair tenant = strait::fuzz::FuzzTenantKey();
  const uint64_t day = 86'400;
  struct Tenant {
    const char* id;
    uint64_t nb, na;
  };
  int n = 0;
  for (const Tenant& t : {Tenant{"acme", kFuzzNow - 30 * day, kFuzzNow + 30 * day},
                          Tenant{"tenant-0123456789-abcdefghijklmnopqrstuvwxyz", 0, UINT64_MAX}}) {
    const std::vector<uint8_t> tc = IssueTenantCert(root, {t.id, tenant.public_key, t.nb, t.na}).value();
    Write(dir + "/credential/tenant_cert_" + t.id, tc);
    for (Role role : {Role::kDevice, Role::kConnector}) {
      for (const char* subject : {"phone-1", "dc.east_1"}) {
        const CredentialParams p{role, subject, Ed25519KeyPair::Generate().public_key,
                                 X25519KeyPair::Generate().public_key, static_cast<uint64_t>(++n),
                                 kFuzzNow - day, kFuzzNow + day};
        const std::vector<uint8_t> c = IssueCredential(tenant, tc, p).value();
        Write(dir + "/credential/" + std::string(RoleName(role)) + "_" + t.id + "_" + subject, c);
      }
    }
  }
  for (const char* subject : {"relay-1", "r.eu-west_2"}) {
    const CredentialParams p{Role::kRelay, subject, Ed25519KeyPair::Generate().public_key, {},
                             static_cast<uint64_t>(++n), kFuzzNow - day, kFuzzNow + day};
    Write(dir + "/credential/relay_" + subject, IssueRelayCredential(root, p).value());
  }

  // ClientHellos for tls_server_fuzzer: one for a DNS name (with SNI), one for an IP literal (without).
  const PemCertificate ca = GenerateCa({}).value();
  for (const char* name : {"localhost", "127.0.0.1"}) {
    TlsContext client = TlsContext::CreateClient({ca.cert_pem, name}).value();
    TlsSession s = TlsSession::Create(client).value();
    std::vector<uint8_t> hello;
    if (!s.Start(hello).ok()) return 1;
    Write(dir + "/tls_server/client_hello_" + name, hello);
  }
  return 0;
}
