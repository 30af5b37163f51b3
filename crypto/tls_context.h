// TLS 1.3 contexts on BoringSSL (Debian's android-libboringssl). A TlsContext is the shared, immutable-after-setup
// configuration (certificates, trust store, versions) from which many TlsSessions are made.
//
//   server: PEM certificate chain (leaf first) + PEM private key, both as in-memory strings.
//   client: PEM CA bundle + the server name every session must verify (DNS name or IP literal; hostname
//           verification is always on, and SNI is sent for DNS names).
//
// Both ends speak TLS 1.3 only. The server issues no session tickets and keeps no session cache: resumption is
// not designed yet, and a cache would grow with every connection (design.md: idle sessions cost little memory).
//
// Thread-safety: create on one thread; afterwards a context may be shared by sessions on any thread (SSL_CTX is
// reference counted and internally locked). Move-only.
#pragma once

#include <string>
#include <string_view>

#include <openssl/base.h>

#include "crypto/result.h"

namespace strait::crypto {

enum class TlsError : uint8_t {
  kConfig,     // bad PEM, key does not match certificate, unusable CA
  kHandshake,  // the peer failed verification, offered no TLS 1.3, or sent a bad handshake message
  kProtocol,   // bad record, bad MAC, unexpected message or alert after the handshake
  kClosed,     // the peer sent close_notify; no more data will arrive
  kState,      // the call does not fit the session's state (e.g. Send before the handshake finished)
  kInternal,   // allocation failure or a BoringSSL invariant
};
std::string_view TlsErrorName(TlsError e);
using TlsResultError = Error<TlsError>;

// Drains BoringSSL's thread-local error queue into one line ("<lib>:<reason>; ..."), or `fallback` if it is empty.
std::string TakeBoringSslErrors(std::string_view fallback);

struct TlsServerConfig {
  std::string_view cert_chain_pem;  // leaf first, then intermediates
  std::string_view private_key_pem;
};

struct TlsClientConfig {
  std::string_view ca_pem;       // one or more trust anchors
  std::string_view server_name;  // verified against the certificate's SAN; sent as SNI unless an IP literal
};

class TlsContext {
 public:
  static Result<TlsContext, TlsResultError> CreateServer(const TlsServerConfig& config);
  static Result<TlsContext, TlsResultError> CreateClient(const TlsClientConfig& config);
  // A client that does NOT verify the server's certificate: TLS as transport only (confidentiality against
  // passive observers, no authentication). Only for Direct Connect (docs/protocol.md §12), where the connector
  // has a throwaway self-signed certificate and the Noise session authenticates both ends. Never for a relay.
  // `server_name` (the name or IP literal dialled, non-empty) is sent as SNI when it is a DNS name.
  static Result<TlsContext, TlsResultError> CreateTransportOnlyClient(std::string_view server_name);

  TlsContext(TlsContext&& o) noexcept;
  TlsContext& operator=(TlsContext&& o) noexcept;
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  ~TlsContext();

  bool is_server() const { return is_server_; }
  bool transport_only() const { return transport_only_; }  // CreateTransportOnlyClient: no certificate check
  const std::string& server_name() const { return server_name_; }  // client only
  bool server_name_is_ip() const { return server_name_is_ip_; }
  // The underlying SSL_CTX, for settings this wrapper does not cover (ALPN later; tests use it to pin a peer to
  // TLS 1.2). Owned by this object.
  SSL_CTX* native_handle() const { return ctx_; }

 private:
  TlsContext() = default;

  // Immutable after Create*.
  SSL_CTX* ctx_ = nullptr;
  bool is_server_ = false;
  std::string server_name_;
  bool server_name_is_ip_ = false;
  bool transport_only_ = false;
};

}  // namespace strait::crypto
