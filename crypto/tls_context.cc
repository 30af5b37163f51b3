#include "crypto/tls_context.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <utility>

#include <fmt/format.h>

namespace strait::crypto {
namespace {

Failure<TlsResultError> ConfigError(std::string_view what) {
  return Fail(TlsResultError{TlsError::kConfig, fmt::format("{}: {}", what, TakeBoringSslErrors("failed"))});
}

bssl::UniquePtr<BIO> MemBio(std::string_view s) {
  return bssl::UniquePtr<BIO>(BIO_new_mem_buf(s.data(), static_cast<int>(s.size())));
}

bool IsIpLiteral(std::string_view name) {
  // a2i_IPADDRESS accepts exactly the IPv4 / IPv6 literals X509_VERIFY_PARAM_set1_ip_asc does.
  std::string z(name);
  ASN1_OCTET_STRING* ip = a2i_IPADDRESS(z.c_str());
  if (ip == nullptr) {
    ERR_clear_error();
    return false;
  }
  ASN1_OCTET_STRING_free(ip);
  return true;
}

bssl::UniquePtr<SSL_CTX> NewTls13Context() {
  bssl::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_method()));
  if (!ctx) return nullptr;
  if (!SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION) ||
      !SSL_CTX_set_max_proto_version(ctx.get(), TLS1_3_VERSION)) {
    return nullptr;
  }
  return ctx;
}

}  // namespace

std::string_view TlsErrorName(TlsError e) {
  switch (e) {
    case TlsError::kConfig: return "config";
    case TlsError::kHandshake: return "handshake";
    case TlsError::kProtocol: return "protocol";
    case TlsError::kClosed: return "closed";
    case TlsError::kState: return "state";
    case TlsError::kInternal: return "internal";
  }
  return "unknown";
}

std::string TakeBoringSslErrors(std::string_view fallback) {
  std::string out;
  while (uint32_t e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? std::string(fallback) : out;
}

TlsContext::TlsContext(TlsContext&& o) noexcept
    : ctx_(std::exchange(o.ctx_, nullptr)),
      is_server_(o.is_server_),
      server_name_(std::move(o.server_name_)),
      server_name_is_ip_(o.server_name_is_ip_),
      transport_only_(o.transport_only_) {}

TlsContext& TlsContext::operator=(TlsContext&& o) noexcept {
  if (this != &o) {
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    ctx_ = std::exchange(o.ctx_, nullptr);
    is_server_ = o.is_server_;
    server_name_ = std::move(o.server_name_);
    server_name_is_ip_ = o.server_name_is_ip_;
    transport_only_ = o.transport_only_;
  }
  return *this;
}

TlsContext::~TlsContext() {
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
}

Result<TlsContext, TlsResultError> TlsContext::CreateServer(const TlsServerConfig& config) {
  ERR_clear_error();
  bssl::UniquePtr<SSL_CTX> ctx = NewTls13Context();
  if (!ctx) return Fail(TlsResultError{TlsError::kInternal, TakeBoringSslErrors("SSL_CTX_new failed")});

  bssl::UniquePtr<BIO> certs = MemBio(config.cert_chain_pem);
  bssl::UniquePtr<X509> leaf(PEM_read_bio_X509(certs.get(), nullptr, nullptr, nullptr));
  if (!leaf) return ConfigError("server certificate PEM");
  if (!SSL_CTX_use_certificate(ctx.get(), leaf.get())) return ConfigError("server certificate");
  // The rest of the PEM bundle is the chain. PEM_R_NO_START_LINE at the end is the normal stop.
  while (X509* extra = PEM_read_bio_X509(certs.get(), nullptr, nullptr, nullptr)) {
    if (!SSL_CTX_add0_chain_cert(ctx.get(), extra)) {
      X509_free(extra);
      return ConfigError("server certificate chain");
    }
  }
  ERR_clear_error();

  bssl::UniquePtr<BIO> keybio = MemBio(config.private_key_pem);
  bssl::UniquePtr<EVP_PKEY> key(PEM_read_bio_PrivateKey(keybio.get(), nullptr, nullptr, nullptr));
  if (!key) return ConfigError("server private key PEM");
  if (!SSL_CTX_use_PrivateKey(ctx.get(), key.get())) return ConfigError("server private key");
  if (!SSL_CTX_check_private_key(ctx.get())) return ConfigError("server private key does not match certificate");

  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET);
  if (!SSL_CTX_set_num_tickets(ctx.get(), 0)) return ConfigError("session tickets");

  TlsContext out;
  out.ctx_ = ctx.release();
  out.is_server_ = true;
  return out;
}

Result<TlsContext, TlsResultError> TlsContext::CreateClient(const TlsClientConfig& config) {
  ERR_clear_error();
  if (config.server_name.empty()) return Fail(TlsResultError{TlsError::kConfig, "client needs a server name"});
  bssl::UniquePtr<SSL_CTX> ctx = NewTls13Context();
  if (!ctx) return Fail(TlsResultError{TlsError::kInternal, TakeBoringSslErrors("SSL_CTX_new failed")});

  X509_STORE* store = SSL_CTX_get_cert_store(ctx.get());
  bssl::UniquePtr<BIO> cas = MemBio(config.ca_pem);
  int added = 0;
  while (X509* ca = PEM_read_bio_X509(cas.get(), nullptr, nullptr, nullptr)) {
    const int ok = X509_STORE_add_cert(store, ca);
    X509_free(ca);
    if (!ok) return ConfigError("CA certificate");
    ++added;
  }
  ERR_clear_error();
  if (added == 0) return Fail(TlsResultError{TlsError::kConfig, "CA PEM holds no certificate"});

  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  // The client keeps no sessions either (no resumption yet).
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);

  TlsContext out;
  out.ctx_ = ctx.release();
  out.is_server_ = false;
  out.server_name_ = std::string(config.server_name);
  out.server_name_is_ip_ = IsIpLiteral(config.server_name);
  return out;
}

Result<TlsContext, TlsResultError> TlsContext::CreateTransportOnlyClient(std::string_view server_name) {
  ERR_clear_error();
  if (server_name.empty()) return Fail(TlsResultError{TlsError::kConfig, "client needs a server name"});
  bssl::UniquePtr<SSL_CTX> ctx = NewTls13Context();
  if (!ctx) return Fail(TlsResultError{TlsError::kInternal, TakeBoringSslErrors("SSL_CTX_new failed")});
  // No trust anchors and no verification: the peer is authenticated by the Noise session, not by TLS.
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);

  TlsContext out;
  out.ctx_ = ctx.release();
  out.is_server_ = false;
  out.server_name_ = std::string(server_name);
  out.server_name_is_ip_ = IsIpLiteral(server_name);
  out.transport_only_ = true;
  return out;
}

}  // namespace strait::crypto
