// One TLS 1.3 connection, sans-I/O. Debian's BoringSSL does not export SSL_open_record / SSL_seal_record, so the
// io_uring loop owns the socket and hands this session ciphertext it received; the session hands back ciphertext
// to send and plaintext it decrypted. Nothing here touches a file descriptor or a clock.
//
//   network ──ciphertext_in──▶ Receive ──plaintext_out──▶ caller
//   caller  ──plaintext──────▶ Send    ──ciphertext_out─▶ network
//
// Buffers and their lifetimes (the point of this design: an idle session holds no I/O buffer):
//   * ciphertext_in: borrowed for the duration of one Receive call and fully consumed by it. A custom BIO
//     (BIO_meth_new) reads straight from the span; nothing is copied into a BIO-owned buffer.
//   * ciphertext_out / plaintext_out: caller-owned sinks (crypto/byte_sink.h) or vectors, written during one call
//     and never retained. The caller decides their capacity and reuse.
//   * BoringSSL's own record buffers: its read buffer holds a record only while the record is incomplete (the
//     input ended mid-record) and is released as soon as the record is consumed; its write buffer is released as
//     soon as the BIO has taken the sealed bytes, which is always within the same call because the sink always
//     accepts. So between calls an idle, established session holds only the SSL object and its keys.
//   * The BIO itself is owned by the SSL; its data pointer is set to a stack-allocated window at the start of each
//     call and cleared at the end, so a TlsSession can be moved freely.
//
// After the handshake the handshake-only configuration is shed (SSL_set_shed_handshake_config).
//
// Errors: a failed Receive may still have appended an alert to ciphertext_out; send it, then close the socket.
// Once a call has failed with kHandshake or kProtocol, the session is dead and every later call fails.
//
// Thread-safety: one thread at a time per session (the loop thread that owns the connection). Move-only.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include <openssl/base.h>

#include "crypto/byte_sink.h"
#include "crypto/result.h"
#include "crypto/tls_context.h"

namespace strait::crypto {

class TlsSession {
 public:
  // A new session in the role of its context (client or server). The context must outlive the session.
  static Result<TlsSession, TlsResultError> Create(const TlsContext& ctx);

  TlsSession(TlsSession&& o) noexcept;
  TlsSession& operator=(TlsSession&& o) noexcept;
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;
  ~TlsSession();

  // Drives the handshake as far as it can go without input: a client appends its ClientHello to ciphertext_out;
  // a server appends nothing. Call once, before the first Receive.
  Result<void, TlsResultError> Start(std::vector<uint8_t>& ciphertext_out);

  // Consumes all of `ciphertext_in`: advances the handshake, appends handshake replies / alerts to
  // ciphertext_out, and appends decrypted application data to plaintext_out. An incomplete record at the end of
  // the input is kept (see above) and completed by the next call. On close_notify from the peer it returns ok and
  // peer_closed() becomes true; data before the close_notify is delivered.
  // The sink form writes each record's plaintext straight into the caller's memory (SSL_read's one copy); the
  // vector form is for tests and cold paths.
  Result<void, TlsResultError> Receive(std::span<const uint8_t> ciphertext_in, ByteSink& plaintext_out,
                                       std::vector<uint8_t>& ciphertext_out);
  Result<void, TlsResultError> Receive(std::span<const uint8_t> ciphertext_in, std::vector<uint8_t>& plaintext_out,
                                       std::vector<uint8_t>& ciphertext_out);

  // Seals `plaintext` into records (at most 16 KiB of plaintext each) written to ciphertext_out. Fails with
  // kState before the handshake has completed. The sink form lets the caller hand out its send buffers, so a
  // sealed record is copied once, from BoringSSL's record buffer into them.
  Result<void, TlsResultError> Send(std::span<const uint8_t> plaintext, ByteSink& ciphertext_out);
  Result<void, TlsResultError> Send(std::span<const uint8_t> plaintext, std::vector<uint8_t>& ciphertext_out);

  // Appends a close_notify alert to ciphertext_out.
  Result<void, TlsResultError> Close(std::vector<uint8_t>& ciphertext_out);

  bool handshake_complete() const;
  bool peer_closed() const;

  // RFC 8446 §7.5 exporter: fills `out` with TLS-Exporter(label, context, out.size()). With TLS 1.3 an empty
  // context and no context are the same value. Fails with kState before the handshake has completed.
  Result<void, TlsResultError> ExportKeyingMaterial(std::string_view label, std::span<const uint8_t> context,
                                                    std::span<uint8_t> out) const;

  // The underlying SSL (owned here), for inspection such as the negotiated version or cipher.
  SSL* native_handle() const { return ssl_; }

 private:
  explicit TlsSession(SSL* ssl) : ssl_(ssl) {}
  Result<void, TlsResultError> Drive(std::span<const uint8_t> ciphertext_in, ByteSink* plaintext_out,
                                     ByteSink& ciphertext_out);

  // Loop thread only. The one heap object this session owns; everything else lives inside it.
  SSL* ssl_ = nullptr;
};

}  // namespace strait::crypto
