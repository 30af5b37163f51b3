// HttpExchange: one metrics HTTP exchange without I/O (style.md item 1): request bytes in, at most one response out.
// HttpEndpoint (http_endpoint.h) reads a connection's bytes into it and writes what it says; the fuzzer
// (fuzz/metrics_http_fuzzer.cc) and tests/metrics/http_exchange_test.cc drive it directly.
//
//   Feed(bytes) ─▶ kNeedMore: read more (the bytes were consumed and are held, within the bounds)
//               ─▶ kRespond:  write response() and close; any later bytes are ignored (one request per connection)
//               ─▶ kError:    close without an answer (malformed request, a bound exceeded, a body on a request)
//   FeedEof()   ─▶ the peer closed its half: kError unless a response is already due
//
// What it answers: GET (any path, any query) -> 200 `text/plain; version=0.0.4`, body = render(), called once;
// any other method -> 405 "GET only\n". The response has the request's HTTP version, Content-Length, and
// `Connection: close` (HTTP/1.1; HTTP/1.0 closes by default).
// Bounds a client can push against: the request head (line + headers) at most kMaxHeadBytes, and these are the most
// bytes held between calls; a request has no body: a head that announces one (Content-Length above 0, or chunked)
// is kError before any body byte is parsed. Time is the caller's bound (HttpEndpoint: 5 s per connection).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

namespace strait::metrics {

class HttpExchange {
 public:
  using Render = std::function<std::string()>;
  static constexpr std::size_t kMaxHeadBytes = 8192;

  enum class Status : std::uint8_t { kNeedMore, kRespond, kError };

  // `render` must outlive the exchange; it is called at most once, from Feed.
  explicit HttpExchange(const Render* render);
  ~HttpExchange();
  HttpExchange(const HttpExchange&) = delete;
  HttpExchange& operator=(const HttpExchange&) = delete;

  Status Feed(std::span<const std::uint8_t> bytes);
  Status FeedEof();
  Status status() const { return status_; }
  // The whole response (status line, headers, body) once status() is kRespond; empty before.
  const std::string& response() const { return response_; }

 private:
  struct Parser;
  void Respond();

  const Render* const render_;
  std::unique_ptr<Parser> parser_;  // Beast's request parser (kept out of this header)
  std::string held_;                // bytes not yet consumed by the parser (a partial head), <= kMaxHeadBytes
  Status status_ = Status::kNeedMore;
  std::string response_;
};

}  // namespace strait::metrics
