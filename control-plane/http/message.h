// One HTTP request and its response, as the server hands them to the API layer and takes them back
// (docs/control-plane.md §1 http/). Plain values: the API layer and its tests build them without a socket.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace strait::control::http {

// The TLS exporters a connection offers the API (§3 machine proofs, §6.2 activation MACs). Computed once per
// connection on its io thread, right after the handshake, because the SSL object must not be touched from the pool.
struct Exporters {
  std::array<uint8_t, 32> control{};   // TLS-Exporter("EXPORTER-strait-control-1", "", 32)
  std::array<uint8_t, 32> activate{};  // TLS-Exporter("EXPORTER-strait-activate-1", "", 32)
};

struct Request {
  std::string method;  // "GET", "POST", ... as sent
  std::string path;    // the target before '?', not decoded
  std::string query;   // the target after '?', not decoded; empty if none
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, in arrival order
  std::string body;
  std::string peer;        // the client's IP address, textual
  uint64_t connection = 0;  // a process-unique connection number (a machine principal is cached per connection)
  Exporters exporters;
  std::string request_id;  // 16 hex digits, made by the server, echoed in X-Request-Id

  // The first header named `lower_name`, or nullptr.
  const std::string* Header(std::string_view lower_name) const {
    for (const auto& [name, value] : headers) {
      if (name == lower_name) return &value;
    }
    return nullptr;
  }
};

// The body of a streamed response (the NDJSON event streams, docs/control-plane.md §7): the server writes the headers
// with Transfer-Encoding: chunked, then asks for one chunk at a time and writes it before asking for the next, so a
// slow reader holds one chunk, never a queue. The stream ends when the source delivers nullopt or the client goes.
class ChunkSource {
 public:
  virtual ~ChunkSource() = default;
  // [io] Asks for the next chunk. `deliver` is called once, from any thread, with the bytes (never empty) or nullopt
  // (the end).
  virtual void Next(std::function<void(std::optional<std::string>)> deliver) = 0;
  // [any] The client went away or the server stops: no further Next; a deliver already under way is dropped.
  virtual void Cancel() = 0;
};

struct Response {
  unsigned status = 200;
  std::string content_type = "application/json";  // empty: no Content-Type (204)
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers (Location, Allow, Retry-After, ...)
  std::string body;
  std::shared_ptr<ChunkSource> stream;  // set: `body` is ignored and the chunks are the body
};

}  // namespace strait::control::http
