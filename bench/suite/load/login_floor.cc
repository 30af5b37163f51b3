#include "bench/suite/load/login_floor.h"

#include <time.h>

#include <openssl/ssl.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <span>
#include <utility>

#include <fmt/format.h>

#include "crypto/credential.h"
#include "crypto/proof.h"
#include "crypto/tls_context.h"
#include "crypto/tls_session.h"
#include "crypto/x509_issue.h"
#include "tunnel/link/login.h"

namespace strait::bench {
namespace {

// Announced in HELLO_ACK; their values cost nothing.
constexpr std::uint32_t kKeepaliveMs = 25'000;
constexpr std::uint32_t kIdleTimeoutMs = 90'000;

// This thread's CPU time in ns (user + system; see the header for why this clock).
std::int64_t ThreadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

double MedianUs(std::vector<std::int64_t>& ns) {
  std::sort(ns.begin(), ns.end());
  const std::size_t n = ns.size();
  const double mid = n % 2 == 1 ? static_cast<double>(ns[n / 2])
                                : (static_cast<double>(ns[n / 2 - 1]) + static_cast<double>(ns[n / 2])) / 2.0;
  return mid / 1000.0;
}

std::string TlsFailure(std::string_view step, const crypto::TlsResultError& e) {
  return fmt::format("{}: {}: {}", step, crypto::TlsErrorName(e.code), e.reason);
}

std::string Str(const char* s) { return s != nullptr ? std::string(s) : std::string(); }

// The relay's and the device's fixed configuration, made once before the logins.
struct Sides {
  crypto::TlsContext server_tls;
  crypto::TlsContext client_tls;
  link::ServerLoginConfig server;
  link::ClientLoginConfig client;
};

// Server-side CPU of one login, split as in the header, and what the handshake negotiated.
struct OneLogin {
  std::int64_t tls_ns = 0;
  std::int64_t checks_ns = 0;
  std::string version, cipher, group, signature;
};

Result<OneLogin, std::string> RunOneLogin(const Sides& s) {
  OneLogin out;
  std::vector<std::uint8_t> to_server, to_client, plain, client_plain;

  // Client: ClientHello (not counted).
  auto client = crypto::TlsSession::Create(s.client_tls);
  if (!client) return Fail(TlsFailure("client session", client.error()));
  if (auto r = client->Start(to_server); !r) return Fail(TlsFailure("ClientHello", r.error()));

  // Server: a new session, ClientHello in, its flight out (counted).
  std::int64_t t0 = ThreadCpuNs();
  std::optional<crypto::TlsSession> server;
  {
    auto created = crypto::TlsSession::Create(s.server_tls);
    if (!created) return Fail(TlsFailure("server session", created.error()));
    server.emplace(std::move(created).value());
  }
  if (auto r = server->Start(to_client); !r) return Fail(TlsFailure("server start", r.error()));
  if (auto r = server->Receive(to_server, plain, to_client); !r) {
    return Fail(TlsFailure("server handshake", r.error()));
  }
  std::int64_t t1 = ThreadCpuNs();
  out.tls_ns += t1 - t0;
  to_server.clear();

  // Client: the server's flight in, Finished out, then HELLO as its first record (not counted).
  if (auto r = client->Receive(to_client, client_plain, to_server); !r) {
    return Fail(TlsFailure("client handshake", r.error()));
  }
  to_client.clear();
  if (!client->handshake_complete()) return Fail(std::string("the client's handshake did not complete in one flight"));
  auto client_exporter = crypto::HelloExporterValue(*client);
  if (!client_exporter) return Fail("client exporter: " + client_exporter.error().reason);
  auto hello = link::BuildHello(s.client, *client_exporter);
  if (!hello) return Fail("HELLO: " + hello.error().reason);
  if (auto r = client->Send(*hello, to_server); !r) return Fail(TlsFailure("client send HELLO", r.error()));

  // Server: Finished and the HELLO record in (TLS), then the relay's checks and its HELLO_ACK (checks).
  t0 = ThreadCpuNs();
  if (auto r = server->Receive(to_server, plain, to_client); !r) {
    return Fail(TlsFailure("server Finished / HELLO", r.error()));
  }
  t1 = ThreadCpuNs();
  if (!server->handshake_complete()) return Fail(std::string("the server's handshake did not complete"));
  if (plain != *hello) return Fail(std::string("the server did not receive the HELLO whole"));
  auto exporter = crypto::HelloExporterValue(*server);
  if (!exporter) return Fail("server exporter: " + exporter.error().reason);
  auto peer = link::VerifyHello(s.server, *exporter, plain);
  if (!peer) {
    return Fail(fmt::format("the relay refused the HELLO: {}: {}", tunnel::ErrorCodeName(peer.error().code),
                            peer.error().reason));
  }
  const std::vector<std::uint8_t> ack =
      link::BuildHelloAck(s.server, peer->version, kKeepaliveMs, kIdleTimeoutMs, *exporter);
  const std::int64_t t2 = ThreadCpuNs();
  out.tls_ns += t1 - t0;
  out.checks_ns += t2 - t1;

  // What was negotiated, read before the session goes (not counted: a few field reads).
  SSL* ssl = server->native_handle();
  out.version = Str(SSL_get_version(ssl));
  out.cipher = Str(SSL_CIPHER_standard_name(SSL_get_current_cipher(ssl)));
  if (const std::uint16_t curve = SSL_get_curve_id(ssl); curve != 0) out.group = Str(SSL_get_curve_name(curve));
  if (const std::uint16_t sigalg = SSL_get_peer_signature_algorithm(client->native_handle()); sigalg != 0) {
    out.signature = Str(SSL_get_signature_algorithm_name(sigalg, /*include_curve=*/1));
  }

  // Server: HELLO_ACK sealed, the session freed (TLS).
  const std::int64_t t3 = ThreadCpuNs();
  if (auto r = server->Send(ack, to_client); !r) return Fail(TlsFailure("server send HELLO_ACK", r.error()));
  server.reset();
  const std::int64_t t4 = ThreadCpuNs();
  out.tls_ns += t4 - t3;

  // Client: HELLO_ACK in and judged, so a floor is only reported for logins that really succeeded (not counted).
  client_plain.clear();
  to_server.clear();
  if (auto r = client->Receive(to_client, client_plain, to_server); !r) {
    return Fail(TlsFailure("client receive HELLO_ACK", r.error()));
  }
  if (auto r = link::CheckHelloAck(s.client, *client_exporter, client_plain); !r) {
    return Fail(fmt::format("the client refused the HELLO_ACK: {}: {}", tunnel::ErrorCodeName(r.error().code),
                            r.error().reason));
  }
  return out;
}

}  // namespace

Result<LoginFloor, std::string> MeasureLoginFloor(const LoginFloorInputs& inputs, std::uint32_t iterations) {
  if (iterations == 0) return Fail(std::string("the login floor needs at least one iteration"));

  auto server_tls = crypto::TlsContext::CreateServer({inputs.server_cert_chain_pem, inputs.server_key_pem.view()});
  if (!server_tls) return Fail(TlsFailure("relay TLS context", server_tls.error()));
  auto client_tls = crypto::TlsContext::CreateClient({inputs.ca_pem, inputs.server_name});
  if (!client_tls) return Fail(TlsFailure("device TLS context", client_tls.error()));

  Sides s{std::move(server_tls).value(), std::move(client_tls).value(), {}, {}};
  s.server.root_key = inputs.root_public_key;
  s.server.roles = crypto::RoleSet{crypto::Role::kDevice};
  s.server.relay_id = "floor";
  s.server.credential = inputs.relay_credential;
  s.server.key = inputs.relay_key;
  s.client = link::ClientLoginConfig::Of(inputs.device_credential, inputs.device_key, tunnel::LinkRole::kDevice);
  if (!inputs.relay_credential.empty()) s.client.server_root = inputs.root_public_key;

  std::vector<std::int64_t> total_ns, tls_ns, checks_ns;
  total_ns.reserve(iterations);
  tls_ns.reserve(iterations);
  checks_ns.reserve(iterations);
  LoginFloor floor;
  for (std::uint32_t i = 0; i < kLoginFloorWarmup + iterations; ++i) {
    auto one = RunOneLogin(s);
    if (!one) {
      const bool warm = i < kLoginFloorWarmup;
      return Fail(fmt::format("login {}{}: {}", warm ? i : i - kLoginFloorWarmup, warm ? " (warm-up)" : "",
                              one.error()));
    }
    if (i < kLoginFloorWarmup) continue;
    tls_ns.push_back(one->tls_ns);
    checks_ns.push_back(one->checks_ns);
    total_ns.push_back(one->tls_ns + one->checks_ns);
    if (floor.tls_version.empty()) {
      floor.tls_version = std::move(one->version);
      floor.cipher = std::move(one->cipher);
      floor.group = std::move(one->group);
      floor.signature = std::move(one->signature);
    }
  }
  floor.iterations = iterations;
  floor.hello_ack_signed = !inputs.relay_credential.empty();
  floor.us_per_login = MedianUs(total_ns);
  floor.tls_us = MedianUs(tls_ns);
  floor.login_checks_us = MedianUs(checks_ns);
  return floor;
}

Result<LoginFloorInputs, std::string> MakeThrowawayLoginFloorInputs() {
  const std::uint64_t now = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  const std::uint64_t not_before = now - 3600;
  const std::uint64_t not_after = now + 24 * 3600;
  auto cred_error = [](std::string_view what, const crypto::CredentialResultError& e) {
    return fmt::format("{}: {}: {}", what, crypto::CredentialErrorName(e.code), e.reason);
  };

  LoginFloorInputs in;
  const crypto::Ed25519KeyPair root = crypto::Ed25519KeyPair::Generate();
  in.root_public_key = root.public_key;

  const crypto::Ed25519KeyPair tenant = crypto::Ed25519KeyPair::Generate();
  auto tenant_cert = crypto::IssueTenantCert(root, {"floor", tenant.public_key, not_before, not_after});
  if (!tenant_cert) return Fail(cred_error("tenant cert", tenant_cert.error()));

  in.device_key = crypto::Ed25519KeyPair::Generate();
  const crypto::X25519KeyPair noise = crypto::X25519KeyPair::Generate();
  auto device = crypto::IssueCredential(
      tenant, *tenant_cert,
      {crypto::Role::kDevice, "device-1", in.device_key.public_key, noise.public_key, 1, not_before, not_after});
  if (!device) return Fail(cred_error("device credential", device.error()));
  in.device_credential = std::move(device).value();

  in.relay_key = crypto::Ed25519KeyPair::Generate();
  auto relay = crypto::IssueRelayCredential(
      root, {crypto::Role::kRelay, "relay-1", in.relay_key.public_key, crypto::X25519PublicKey{}, 2, not_before,
             not_after});
  if (!relay) return Fail(cred_error("relay credential", relay.error()));
  in.relay_credential = std::move(relay).value();

  auto ca = crypto::GenerateCa({"Strait bench floor CA", 24 * 3600});
  if (!ca) return Fail("TLS CA: " + ca.error().reason);
  auto leaf = crypto::IssueLeafCertificate(*ca, {"localhost", {"localhost"}, {"127.0.0.1"}, 24 * 3600});
  if (!leaf) return Fail("relay TLS certificate: " + leaf.error().reason);
  in.ca_pem = ca->cert_pem;
  in.server_name = "localhost";
  in.server_cert_chain_pem = leaf->cert_pem;
  in.server_key_pem = crypto::SecretText(std::move(leaf->key_pem));
  crypto::SecureZero(std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(ca->key_pem.data()), ca->key_pem.size()));
  return in;
}

Result<LoginFloorInputs, std::string> LoginFloorInputsFromBundles(const crypto::IdentityBundle& relay,
                                                                  const crypto::IdentityBundle& device,
                                                                  std::string server_name) {
  if (relay.role != crypto::Role::kRelay) return Fail(std::string("the relay bundle is not a relay's"));
  if (device.role != crypto::Role::kDevice) return Fail(std::string("the device bundle is not a device's"));
  if (relay.tls_cert_pem.empty() || relay.tls_key_pem.empty()) {
    return Fail(std::string("the relay bundle has no tls.crt / tls.key"));
  }
  if (device.ca_pem.empty()) return Fail(std::string("the device bundle has no ca.pem"));
  if (!(relay.root_public_key == device.root_public_key)) {
    return Fail(std::string("the relay and device bundles name different roots"));
  }
  LoginFloorInputs in;
  in.server_cert_chain_pem = relay.tls_cert_pem;
  in.server_key_pem = crypto::SecretText(std::string(relay.tls_key_pem.view()));
  in.ca_pem = device.ca_pem;
  in.server_name = std::move(server_name);
  in.device_credential = device.credential;
  in.device_key = device.signing_key;
  in.root_public_key = device.root_public_key;
  in.relay_credential = relay.credential;
  in.relay_key = relay.signing_key;
  return in;
}

}  // namespace strait::bench
