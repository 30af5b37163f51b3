// Login on a link (docs/protocol.md §3): the HELLO / HELLO_ACK exchange that turns a TLS connection into an
// authenticated link. Sans-I/O: these functions take payload bytes and the session's exporter value and return
// payload bytes or a refusal; TlsLink (tls_link.h) drives them and owns the states:
//
//   client:  TLS done ─▶ BuildHello ─▶ send HELLO ─▶ HELLO_ACK: CheckHelloAck ─▶ up
//                                                  └▶ ERROR <code, reason>      ─▶ down (code surfaced)
//   server:  TLS done ─▶ HELLO: VerifyHello ─▶ ok:      send HELLO_ACK (BuildHelloAck) ─▶ up
//                                          └▶ refused: send ERROR <code, reason>, close ─▶ down
//
// Checks in VerifyHello, in order, each with its ERROR code (protocol.md §10):
//   payload decodes (protocol_error) · version range holds kProtocolVersion (unsupported_version) ·
//   VerifyCredential against the root key, `now` and this port's roles (bad_credential, reason = the credential
//   error's name and detail; a role outside the port's set is wrong_role) · HELLO role byte = credential role
//   (wrong_role) · proof over this session's exporter (bad_proof).
//
// Cost: VerifyHello does up to three Ed25519 verifications (~150 µs); it belongs on a login loop, not on a
// forwarding shard (docs/relay.md). Thread-safety: free functions; configs are read-only once links use them.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "crypto/credential.h"
#include "crypto/keys.h"
#include "crypto/proof.h"
#include "crypto/result.h"
#include "tunnel/frame.h"

namespace strait::link {

// What a dialling peer (device or connector) presents. Immutable while links use it.
struct ClientLoginConfig {
  std::vector<std::uint8_t> credential;  // issued credential bytes (crypto/credential.h), 1..512
  crypto::Ed25519KeyPair key;            // the credential's Ed25519 key, signs the proof
  tunnel::LinkRole role = tunnel::LinkRole::kDevice;
  std::string preferred_connector;       // HELLO str8; empty = none
  // What the server must show in HELLO_ACK (protocol.md §3): a credential that verifies under server_root, with a
  // role in server_roles (and of server_tenant, if set), and its proof over this session's exporter. nullopt: not
  // checked (the link layer's own tests); every daemon sets it, so no identity rests on the TLS CA alone.
  std::optional<crypto::Ed25519PublicKey> server_root;
  crypto::RoleSet server_roles{crypto::Role::kRelay};
  std::string server_tenant;
  std::function<std::uint64_t()> now_unix;  // clock for the server's credential; empty = the system clock

  // The login part alone (no server check: set server_root for that).
  static ClientLoginConfig Of(std::vector<std::uint8_t> credential, const crypto::Ed25519KeyPair& key,
                              tunnel::LinkRole role, std::string preferred_connector = {}) {
    ClientLoginConfig c;
    c.credential = std::move(credential);
    c.key = key;
    c.role = role;
    c.preferred_connector = std::move(preferred_connector);
    return c;
  }
};

// What an accepting side (relay port, or a connector's Direct Connect listener) checks and announces.
struct ServerLoginConfig {
  crypto::Ed25519PublicKey root_key;
  crypto::RoleSet roles{crypto::Role::kDevice};  // roles this port takes
  std::function<std::uint64_t()> now_unix;       // credential clock; empty = the system clock
  std::string relay_id;                          // HELLO_ACK str8
  std::uint32_t max_payload = static_cast<std::uint32_t>(tunnel::kMaxPayload);
  // Our own credential and its key, shown in HELLO_ACK with a proof over the session's exporter: a relay's (role
  // relay) or a Direct Connect connector's. Empty credential: none shown.
  std::vector<std::uint8_t> credential;
  crypto::Ed25519KeyPair key;
};

// A refusal: the ERROR code and reason to send (server) or that were received (client).
struct LoginRefusal {
  tunnel::ErrorCode code = tunnel::ErrorCode::kProtocolError;
  std::string reason;
};

// Server side: the peer a valid HELLO established.
struct PeerLogin {
  std::uint8_t version = 0;
  crypto::VerifiedCredential credential;
  std::vector<std::uint8_t> credential_bytes;  // as presented in HELLO (a relay offers them in SESSION_OFFER)
  std::string preferred_connector;
  std::uint64_t verified_at_unix = 0;  // the credential clock when VerifyHello judged it (credential.not_after
                                       // minus this is how long the link may stay up: TlsLink closes it then)
};

// Client side: what HELLO_ACK announced.
struct RelayLogin {
  std::uint8_t version = 0;
  std::uint32_t max_payload = 0;
  std::uint32_t keepalive_ms = 0;
  std::uint32_t idle_timeout_ms = 0;
  std::string relay_id;
  std::optional<crypto::VerifiedCredential> server;  // the server's credential, when the client checked it
};

// Client: the HELLO payload for the session whose exporter is given. Fails (kInternal) only when the config
// cannot be encoded (credential empty or above 512 bytes, preferred_connector above 255 bytes).
Result<std::vector<std::uint8_t>, LoginRefusal> BuildHello(const ClientLoginConfig& config,
                                                           const crypto::HelloExporter& exporter);

// Server: judges a HELLO payload against this session's exporter. Ok: the peer; failure: the ERROR to send.
Result<PeerLogin, LoginRefusal> VerifyHello(const ServerLoginConfig& config, const crypto::HelloExporter& exporter,
                                            std::span<const std::uint8_t> payload);

// Server: the HELLO_ACK payload (the link's keepalive and idle timeouts are announced to the peer; with a
// credential in `config`, it and its proof over `exporter`).
std::vector<std::uint8_t> BuildHelloAck(const ServerLoginConfig& config, std::uint8_t version,
                                        std::uint32_t keepalive_ms, std::uint32_t idle_timeout_ms,
                                        const crypto::HelloExporter& exporter);

// Client: judges a HELLO_ACK payload: decodes; the version must be one we offered; with config.server_root set,
// the server's credential must verify (bad_credential, or wrong_role / unauthorized for another role or tenant) and
// its proof over `exporter` (bad_proof).
Result<RelayLogin, LoginRefusal> CheckHelloAck(const ClientLoginConfig& config, const crypto::HelloExporter& exporter,
                                               std::span<const std::uint8_t> payload);

// The credential clock of `config`: now_unix() if set, else the system clock (unix seconds).
std::uint64_t CredentialNow(const ServerLoginConfig& config);

// The ERROR code VerifyHello uses for a credential failure: wrong_role for kWrongRole, else bad_credential.
tunnel::ErrorCode ErrorCodeForCredential(crypto::CredentialError e);

// A renewed credential for the holder of `current` (docs/control-plane.md §6.5), before a daemon logs in with it:
// it must verify under `root` at `now_unix` and name the same role, tenant, subject, Ed25519 key and Noise key as
// `current` (a renewal never changes keys: new keys are a new activation). Ok: the renewal, verified; else one line
// saying why. The device, the connector and the relay take a renewal through it.
Result<crypto::VerifiedCredential, std::string> CheckRenewedCredential(std::span<const std::uint8_t> renewed,
                                                                       std::span<const std::uint8_t> current,
                                                                       const crypto::Ed25519PublicKey& root,
                                                                       std::uint64_t now_unix);

}  // namespace strait::link
