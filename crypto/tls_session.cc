#include "crypto/tls_session.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <utility>

#include <fmt/format.h>

namespace strait::crypto {
namespace {

// What the BIO may read and where it appends, valid for the duration of one TlsSession call. Lives on that
// call's stack.
struct IoWindow {
  std::span<const uint8_t> in;
  size_t consumed = 0;
  ByteSink* out = nullptr;
};

int WindowRead(BIO* bio, char* dst, int len) {
  BIO_clear_retry_flags(bio);
  auto* w = static_cast<IoWindow*>(BIO_get_data(bio));
  const size_t left = w == nullptr ? 0 : w->in.size() - w->consumed;
  if (left == 0 || len <= 0) {
    BIO_set_retry_read(bio);  // "no more input now", not EOF: the next call brings more
    return -1;
  }
  const size_t n = std::min(left, static_cast<size_t>(len));
  std::memcpy(dst, w->in.data() + w->consumed, n);
  w->consumed += n;
  return static_cast<int>(n);
}

int WindowWrite(BIO* bio, const char* src, int len) {
  BIO_clear_retry_flags(bio);
  auto* w = static_cast<IoWindow*>(BIO_get_data(bio));
  if (w == nullptr || w->out == nullptr) {
    // Only reachable if BoringSSL writes outside one of our calls; it never does. Make it retry rather than lose
    // bytes.
    BIO_set_retry_write(bio);
    return -1;
  }
  if (len <= 0) return 0;
  const auto* p = reinterpret_cast<const uint8_t*>(src);
  auto left = static_cast<size_t>(len);
  while (left > 0) {  // the sink may hand out the space in pieces (e.g. one send buffer after another)
    const std::span<uint8_t> dst = w->out->Reserve(left);
    if (dst.empty()) return -1;  // out of memory: SSL_write fails, the caller closes the link
    const size_t n = std::min(left, dst.size());
    std::memcpy(dst.data(), p, n);
    w->out->Commit(n);
    p += n;
    left -= n;
  }
  return len;
}

long WindowCtrl(BIO*, int cmd, long, void*) {  // NOLINT(google-runtime-int): BIO's signature
  switch (cmd) {
    case BIO_CTRL_FLUSH: return 1;
    default: return 0;  // no pending bytes, no EOF, nothing else supported
  }
}

int WindowCreate(BIO* bio) {
  BIO_set_data(bio, nullptr);
  BIO_set_init(bio, 1);
  return 1;
}

// Process-wide and immutable once built; intentionally never freed.
const BIO_METHOD* WindowMethod() {
  static const BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "strait-window");
    if (m == nullptr || !BIO_meth_set_read(m, WindowRead) || !BIO_meth_set_write(m, WindowWrite) ||
        !BIO_meth_set_ctrl(m, WindowCtrl) || !BIO_meth_set_create(m, WindowCreate)) {
      return static_cast<BIO_METHOD*>(nullptr);
    }
    return m;
  }();
  return method;
}

// Points the session's BIO at `w` for one call and detaches it on every exit path.
class WindowScope {
 public:
  WindowScope(SSL* ssl, IoWindow* w) : bio_(SSL_get_rbio(ssl)) { BIO_set_data(bio_, w); }
  ~WindowScope() { BIO_set_data(bio_, nullptr); }
  WindowScope(const WindowScope&) = delete;
  WindowScope& operator=(const WindowScope&) = delete;

 private:
  BIO* bio_;
};

Failure<TlsResultError> SslFailure(SSL* ssl, int ret, bool in_handshake) {
  const int err = SSL_get_error(ssl, ret);
  if (err == SSL_ERROR_SSL) {
    std::string reason = TakeBoringSslErrors("TLS failure");
    const long verify = SSL_get_verify_result(ssl);  // NOLINT(google-runtime-int)
    if (in_handshake && verify != X509_V_OK) {
      reason = fmt::format("certificate verification failed: {} ({})", X509_verify_cert_error_string(verify), reason);
    }
    return Fail(TlsResultError{in_handshake ? TlsError::kHandshake : TlsError::kProtocol, std::move(reason)});
  }
  return Fail(TlsResultError{TlsError::kInternal,
                             fmt::format("SSL error {}: {}", err, TakeBoringSslErrors("no detail"))});
}

}  // namespace

Result<TlsSession, TlsResultError> TlsSession::Create(const TlsContext& ctx) {
  ERR_clear_error();
  const BIO_METHOD* method = WindowMethod();
  if (method == nullptr) return Fail(TlsResultError{TlsError::kInternal, "BIO_meth_new failed"});
  bssl::UniquePtr<SSL> ssl(SSL_new(ctx.native_handle()));
  if (!ssl) return Fail(TlsResultError{TlsError::kInternal, TakeBoringSslErrors("SSL_new failed")});
  BIO* bio = BIO_new(method);
  if (bio == nullptr) return Fail(TlsResultError{TlsError::kInternal, "BIO_new failed"});
  SSL_set_bio(ssl.get(), bio, bio);  // takes the one reference for both directions

  if (ctx.is_server()) {
    SSL_set_accept_state(ssl.get());
  } else {
    SSL_set_connect_state(ssl.get());
    const std::string& name = ctx.server_name();
    if (ctx.server_name_is_ip()) {
      if (!X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), name.c_str())) {
        return Fail(TlsResultError{TlsError::kConfig, "bad server IP literal"});
      }
    } else {
      if (!SSL_set_tlsext_host_name(ssl.get(), name.c_str()) || !SSL_set1_host(ssl.get(), name.c_str())) {
        return Fail(TlsResultError{TlsError::kConfig, TakeBoringSslErrors("bad server name")});
      }
    }
  }
  // Free certificates, verify parameters and the like once the handshake is done: an idle session keeps only
  // what it needs to seal, open and export.
  SSL_set_shed_handshake_config(ssl.get(), 1);
  return TlsSession(ssl.release());
}

TlsSession::TlsSession(TlsSession&& o) noexcept : ssl_(std::exchange(o.ssl_, nullptr)) {}

TlsSession& TlsSession::operator=(TlsSession&& o) noexcept {
  if (this != &o) {
    if (ssl_ != nullptr) SSL_free(ssl_);
    ssl_ = std::exchange(o.ssl_, nullptr);
  }
  return *this;
}

TlsSession::~TlsSession() {
  if (ssl_ != nullptr) SSL_free(ssl_);
}

bool TlsSession::handshake_complete() const { return ssl_ != nullptr && !SSL_in_init(ssl_); }

bool TlsSession::peer_closed() const {
  return ssl_ != nullptr && (SSL_get_shutdown(ssl_) & SSL_RECEIVED_SHUTDOWN) != 0;
}

Result<void, TlsResultError> TlsSession::Start(std::vector<uint8_t>& ciphertext_out) {
  VectorSink out(ciphertext_out);
  return Drive({}, nullptr, out);
}

Result<void, TlsResultError> TlsSession::Receive(std::span<const uint8_t> ciphertext_in, ByteSink& plaintext_out,
                                                 std::vector<uint8_t>& ciphertext_out) {
  VectorSink out(ciphertext_out);
  return Drive(ciphertext_in, &plaintext_out, out);
}

Result<void, TlsResultError> TlsSession::Receive(std::span<const uint8_t> ciphertext_in,
                                                 std::vector<uint8_t>& plaintext_out,
                                                 std::vector<uint8_t>& ciphertext_out) {
  VectorSink plain(plaintext_out);
  return Receive(ciphertext_in, plain, ciphertext_out);
}

Result<void, TlsResultError> TlsSession::Drive(std::span<const uint8_t> ciphertext_in, ByteSink* plaintext_out,
                                               ByteSink& ciphertext_out) {
  if (ssl_ == nullptr) return Fail(TlsResultError{TlsError::kState, "moved-from session"});
  ERR_clear_error();
  IoWindow w{ciphertext_in, 0, &ciphertext_out};
  WindowScope scope(ssl_, &w);

  if (SSL_in_init(ssl_)) {
    const int r = SSL_do_handshake(ssl_);
    if (r != 1) {
      if (SSL_get_error(ssl_, r) == SSL_ERROR_WANT_READ) return {};  // needs the peer's next flight
      return SslFailure(ssl_, r, /*in_handshake=*/true);
    }
  }
  if (plaintext_out == nullptr) return {};

  // Application data (and post-handshake messages) that arrived with or after the handshake's last flight. SSL_read
  // yields at most one record's plaintext per call, straight into the sink's memory.
  for (;;) {
    const std::span<uint8_t> dst = plaintext_out->Reserve(16384);
    if (dst.empty()) return Fail(TlsResultError{TlsError::kInternal, "out of memory for plaintext"});
    const int n = SSL_read(ssl_, dst.data(), static_cast<int>(std::min<size_t>(dst.size(), INT_MAX)));
    if (n > 0) {
      plaintext_out->Commit(static_cast<size_t>(n));
      continue;
    }
    plaintext_out->Commit(0);
    const int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_WANT_READ) break;
    if (err == SSL_ERROR_ZERO_RETURN) break;  // close_notify: peer_closed() now reports it
    return SslFailure(ssl_, n, /*in_handshake=*/false);
  }
  return {};
}

Result<void, TlsResultError> TlsSession::Send(std::span<const uint8_t> plaintext,
                                              std::vector<uint8_t>& ciphertext_out) {
  VectorSink out(ciphertext_out);
  return Send(plaintext, out);
}

Result<void, TlsResultError> TlsSession::Send(std::span<const uint8_t> plaintext, ByteSink& ciphertext_out) {
  if (ssl_ == nullptr || SSL_in_init(ssl_)) {
    return Fail(TlsResultError{TlsError::kState, "Send before the handshake completed"});
  }
  ERR_clear_error();
  IoWindow w{{}, 0, &ciphertext_out};
  WindowScope scope(ssl_, &w);
  while (!plaintext.empty()) {
    const int len = static_cast<int>(std::min<size_t>(plaintext.size(), INT_MAX / 2));
    const int n = SSL_write(ssl_, plaintext.data(), len);
    if (n <= 0) return SslFailure(ssl_, n, /*in_handshake=*/false);
    plaintext = plaintext.subspan(static_cast<size_t>(n));
  }
  return {};
}

Result<void, TlsResultError> TlsSession::Close(std::vector<uint8_t>& ciphertext_out) {
  if (ssl_ == nullptr) return Fail(TlsResultError{TlsError::kState, "moved-from session"});
  ERR_clear_error();
  VectorSink out(ciphertext_out);
  IoWindow w{{}, 0, &out};
  WindowScope scope(ssl_, &w);
  // 0: close_notify sent, the peer's not yet seen; 1: both done. Either way our alert is in ciphertext_out.
  const int r = SSL_shutdown(ssl_);
  if (r < 0) return SslFailure(ssl_, r, /*in_handshake=*/false);
  return {};
}

Result<void, TlsResultError> TlsSession::ExportKeyingMaterial(std::string_view label,
                                                              std::span<const uint8_t> context,
                                                              std::span<uint8_t> out) const {
  if (ssl_ == nullptr || SSL_in_init(ssl_)) {
    return Fail(TlsResultError{TlsError::kState, "exporter before the handshake completed"});
  }
  ERR_clear_error();
  if (!SSL_export_keying_material(ssl_, out.data(), out.size(), label.data(), label.size(), context.data(),
                                  context.size(), /*use_context=*/1)) {
    return Fail(TlsResultError{TlsError::kInternal, TakeBoringSslErrors("SSL_export_keying_material failed")});
  }
  return {};
}

}  // namespace strait::crypto
