// A blocking HTTPS/1.1 client for the control plane's tests: Boost.Beast over OpenSSL 3 (the same library as the
// server, never BoringSSL), one keep-alive connection, TLS 1.3, the server checked against a given CA PEM.
// Also offers the raw stream, for tests that send what no well-behaved client sends.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace strait::control::testing {

struct Reply {
  unsigned status = 0;  // 0: no reply (the connection failed or was closed; `error` says why)
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string error;

  std::string Header(std::string_view lower_name) const;
};

class HttpsClient {
 public:
  // `address` is "127.0.0.1:port"; `ca_pem` the CA the server's certificate chains to ("" : no verification).
  HttpsClient(std::string address, std::string ca_pem, std::string server_name = "localhost");
  ~HttpsClient();

  // Sends one request on the kept connection (connecting first if needed) and reads the reply.
  Reply Send(std::string_view method, std::string_view target, std::string_view body = {},
             std::vector<std::pair<std::string, std::string>> headers = {});
  // JSON shorthands: Content-Type application/json, and an Authorization: Bearer header when `key` is not empty.
  Reply Json(std::string_view method, std::string_view target, std::string_view key, std::string_view body = {});

  // Sends a request whose answer is a stream (NDJSON): returns the status and headers (body empty) once they are in;
  // ReadLine then gives the body one line at a time.
  Reply OpenStream(std::string_view target, std::string_view key, std::vector<std::pair<std::string, std::string>> headers = {});
  // The next line of the open stream (without its LF), or nullopt when it ended, failed or `timeout` passed.
  std::optional<std::string> ReadLine(std::chrono::milliseconds timeout);

  // Connects (TLS handshake) now; false with `error` on failure.
  bool Connect(std::string* error);
  // Writes raw bytes on the TLS stream and reads what comes back until the server closes or `timeout` passes.
  std::string RawExchange(std::string_view bytes, std::chrono::milliseconds timeout);
  // TLS-Exporter(label, empty context, 32) of the current connection.
  std::array<uint8_t, 32> Exporter(std::string_view label);
  void Close();
  bool connected() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace strait::control::testing
