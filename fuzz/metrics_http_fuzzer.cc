// The metrics endpoint's request handling (metrics/http_exchange.h, what metrics::HttpEndpoint reads and answers),
// fed one connection's bytes.
//
// Input: [u8 chunking seed][request bytes]. The bytes go in three ways: whole, one byte at a time, and in chunks
// whose sizes come from the seed; then the end of the stream (FeedEof).
//
// Properties (trap on violation), beyond "never crashes":
//   - the three feedings end in the same status with the same response bytes (chunking never changes an answer);
//   - at most one response; the render callback runs once exactly when the answer is 200;
//   - kError: no response bytes; kRespond: the response parses as one whole HTTP/1.x response (Beast's response
//     parser) with `Connection: close` semantics, in the request line's version, Content-Length equal to its body;
//   - a model of the answer: 200 with the rendered body only for a request line that starts "GET ", otherwise 405
//     "GET only\n";
//   - the bound: a request answered has its head (up to the blank line) within kMaxHeadBytes.
#include <boost/beast/core/error.hpp>
#include <boost/beast/http.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "metrics/http_exchange.h"

namespace {

namespace http = boost::beast::http;
using strait::metrics::HttpExchange;
using Status = HttpExchange::Status;

void Check(bool cond) {
  if (!cond) __builtin_trap();
}

constexpr std::string_view kBody = "strait_up 1\nstrait_links{port=\"device\"} 3\n";

struct Outcome {
  Status status;
  std::string response;
  int renders;
};

template <class NextChunk>
Outcome Feed(std::span<const uint8_t> in, NextChunk next) {
  int renders = 0;
  const HttpExchange::Render render = [&renders] {
    ++renders;
    return std::string(kBody);
  };
  HttpExchange ex(&render);
  Status st = Status::kNeedMore;
  while (!in.empty()) {
    const size_t n = std::min(in.size(), next());
    st = ex.Feed(in.first(n));
    Check(st == ex.status());
    if (st != Status::kNeedMore) Check(ex.Feed(in.first(n)) == st);  // later bytes change nothing
    in = in.subspan(n);
  }
  st = ex.FeedEof();
  Check(st != Status::kNeedMore);
  Check(ex.FeedEof() == st);
  return {st, ex.response(), renders};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  uint32_t seed = data[0] | 1u;
  const std::span<const uint8_t> in(data + 1, size - 1);
  const std::string_view text(reinterpret_cast<const char*>(in.data()), in.size());

  const Outcome whole = Feed(in, [] { return SIZE_MAX; });
  const Outcome bytewise = Feed(in, [] { return size_t{1}; });
  const Outcome chunked = Feed(in, [&seed] {
    seed = seed * 1103515245u + 12345u;
    return size_t{1} + (seed >> 16) % 97;
  });
  for (const Outcome* o : {&bytewise, &chunked}) {
    Check(o->status == whole.status && o->response == whole.response && o->renders == whole.renders);
  }

  if (whole.status == Status::kError) {
    Check(whole.response.empty() && whole.renders == 0);
    return 0;
  }
  // An answer: one whole HTTP/1.x response.
  http::response_parser<http::string_body> parser;
  parser.eager(true);
  boost::beast::error_code ec;
  const size_t used = parser.put(boost::asio::buffer(whole.response), ec);
  Check(!ec && parser.is_done() && used == whole.response.size());
  const auto& res = parser.get();
  Check(!res.keep_alive());
  Check(res[http::field::content_length] == std::to_string(res.body().size()));

  const size_t head_end = text.find("\r\n\r\n");
  Check(head_end != std::string_view::npos && head_end + 4 <= HttpExchange::kMaxHeadBytes);
  const std::string_view line = text.substr(0, text.find("\r\n"));
  Check(line.ends_with(" HTTP/1.0") || line.ends_with(" HTTP/1.1"));
  Check(res.version() == (line.ends_with("1.0") ? 10 : 11));
  if (line.starts_with("GET ")) {
    Check(res.result() == http::status::ok && res.body() == kBody && whole.renders == 1);
    Check(res[http::field::content_type] == "text/plain; version=0.0.4");
  } else {
    Check(res.result() == http::status::method_not_allowed && res.body() == "GET only\n" && whole.renders == 0);
  }
  return 0;
}
