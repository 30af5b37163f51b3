// The login floor of `strait bench logins` (docs/bench.md §2, "Relay CPU per login and its floor"): what one device
// login costs the relay's CPU at the least, measured by the tool itself in the same run, on the same pinned CPU, so
// that `relay µs per login / floor µs` compares two figures taken on the same machine at the same time.
//
// One login here is, in memory (no sockets, no io_uring, no frames):
//
//   client (not counted)                          server = the relay's work (counted)
//   ClientHello                   ───────────▶    new TlsSession, Start, Receive:              ┐
//                                 ◀───────────    ServerHello .. server Finished               │ tls_us
//   client Finished + HELLO       ───────────▶    Receive: handshake done, HELLO decrypted     ┘
//                                                 exporter, link::VerifyHello (the credential  ┐
//                                                 against the root, role device; the proof     │ login_checks_us
//                                                 over the exporter), link::BuildHelloAck (the │
//                                                 relay's own proof, if it has a credential)   ┘
//                                                 Send(HELLO_ACK), session freed               ] tls_us
//   HELLO_ACK: CheckHelloAck      ◀───────────
//
// The server side is the relay's own code path: TlsContext::CreateServer from its tls.crt / tls.key (TLS 1.3 only,
// no tickets, no session cache), a TlsSession per connection, and the same VerifyHello / BuildHelloAck the relay's
// login loop calls (tunnel/link/login.h). The 12-byte frame header around HELLO and HELLO_ACK is left out (a few
// bytes more of AES-GCM).
//
// Why one thread and thread CPU time (CLOCK_THREAD_CPUTIME_ID) around the server's steps only, rather than the
// client on another thread: the caller pins this thread to the relay's CPU; a client thread would either share
// that CPU (and its context switches and lock hand-offs would land in the figure) or run on a load CPU and need a
// cross-thread hand-off per flight, which costs more than the steps it separates. On one thread nothing is
// shared, every step runs to completion, and the clock reads only this thread's CPU, so the client's work (its
// key share, certificate chain check, HELLO signature) is not counted; only its cache footprint remains, as a
// busy relay's other connections leave one too. The clock costs one system call per read (~0.1-0.5 µs); six reads
// per login are under 1% of a floor of a few hundred µs and are left in.
//
// Statistics: a few warm-up logins (kLoginFloorWarmup) are run and not counted (first-use table set-up in
// BoringSSL and libsodium); then `iterations` logins, each timed on its own. us_per_login, tls_us and
// login_checks_us are each the MEDIAN of their per-login samples (robust to a neighbour's burst on a shared
// machine), so tls_us + login_checks_us need not equal us_per_login exactly.
//
// Thread-safety: MeasureLoginFloor runs entirely on the calling thread and shares nothing; the caller pins it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "crypto/key_pem.h"
#include "crypto/keys.h"
#include "crypto/keystore.h"
#include "crypto/result.h"

namespace strait::bench {

inline constexpr std::uint32_t kLoginFloorWarmup = 3;

// What one in-memory login needs. Immutable while MeasureLoginFloor uses it.
struct LoginFloorInputs {
  // The relay's side: its TLS certificate chain (leaf first) and key, as in its bundle's tls.crt / tls.key.
  std::string server_cert_chain_pem;
  crypto::SecretText server_key_pem;
  // The client's side of TLS: the CA it trusts and the name it dials (must match the certificate's SAN).
  std::string ca_pem;
  std::string server_name;
  // The device: its credential (role device) and the credential's Ed25519 key, which signs the proof.
  std::vector<std::uint8_t> device_credential;
  crypto::Ed25519KeyPair device_key;
  // The root public key the relay verifies credentials against.
  crypto::Ed25519PublicKey root_public_key;
  // Optional: the relay's own credential (role relay) and key, shown in HELLO_ACK with a proof over the exporter,
  // as the relay does on every login. Empty: HELLO_ACK carries none and the floor has no signature in it.
  std::vector<std::uint8_t> relay_credential;
  crypto::Ed25519KeyPair relay_key;
};

struct LoginFloor {
  double us_per_login = 0;     // median server CPU µs of one whole login (TLS + checks)
  double tls_us = 0;           // median of the TLS part (session, handshake, HELLO record in, HELLO_ACK record out)
  double login_checks_us = 0;  // median of exporter + VerifyHello (+ BuildHelloAck's signature, if any)
  std::uint64_t iterations = 0;  // logins counted (warm-up excluded)
  bool hello_ack_signed = false;  // the relay's own proof was part of each login (relay_credential given)
  // As negotiated by the real handshake (from the server's SSL), not configured.
  std::string tls_version;  // e.g. "TLSv1.3"
  std::string cipher;       // e.g. "TLS_AES_128_GCM_SHA256"
  std::string group;        // key exchange, e.g. "X25519"; empty if BoringSSL does not say
  std::string signature;    // the server's handshake signature, e.g. "ecdsa_secp256r1_sha256"
};

// Runs kLoginFloorWarmup + `iterations` logins on the calling thread. Fails (with the iteration and the refusal,
// e.g. "login 0: the relay refused the HELLO: bad_credential: tenant_cert_bad_signature: ...") when iterations is
// 0, when a context cannot be made from the PEMs, when a handshake fails, or when the relay's checks refuse the
// HELLO, so a floor is only reported when every check really ran and passed.
Result<LoginFloor, std::string> MeasureLoginFloor(const LoginFloorInputs& inputs, std::uint32_t iterations);

// Self-contained inputs made in memory: a fresh root, a tenant "floor" with one device credential, a relay
// credential, a throwaway P-256 TLS CA and a relay certificate for "localhost" / 127.0.0.1 (as `strait keys
// tls-ca` and `issue --role relay` make them). Credentials are valid from an hour ago for a day.
Result<LoginFloorInputs, std::string> MakeThrowawayLoginFloorInputs();

// Inputs from identity bundles as `strait keys` writes them (crypto/keystore.h): the relay's bundle (tls.crt,
// tls.key, its credential and key) and a device's (credential, signing key, root.pub, ca.pem). `server_name` is
// a name in the relay certificate's SAN. Fails if the relay bundle has no TLS pair or the device bundle no CA.
Result<LoginFloorInputs, std::string> LoginFloorInputsFromBundles(const crypto::IdentityBundle& relay,
                                                                  const crypto::IdentityBundle& device,
                                                                  std::string server_name);

}  // namespace strait::bench
