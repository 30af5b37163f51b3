// ChunkedDecoder: HTTP/1.1 chunked transfer coding (RFC 9112 §7.1), decoding only, for the event stream's body
// (docs/control-plane.md §7.1: a long-lived `Transfer-Encoding: chunked` answer). Sans-I/O: bytes in, body bytes
// out, no buffering beyond the caller's string (a chunk's data is copied through as it arrives, never held whole).
//
// Why not Beast's parser: Boost 1.74's chunk-header parser asserts on some hostile inputs (control_http_fuzzer found
// it; http_client.h refuses chunked answers for that reason), and the stream needs bytes as they come, not a message.
//
// Strict where laxness buys an attacker room: sizes are hex without leading space, at most kMaxChunkSize; every line
// ends in CRLF; a chunk extension is skipped but bounded (kMaxLineBytes); trailers are skipped, bounded in count and
// size. Any violation fails the decoder for good (kError, error() says why): the caller drops the connection.
//
// Not thread-safe: one decoder per connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace strait::control {

class ChunkedDecoder {
 public:
  static constexpr uint64_t kMaxChunkSize = uint64_t{1} << 26;  // 64 MiB: far above the server's 64 KiB chunks
  static constexpr size_t kMaxLineBytes = 1024;                  // a size line with its extension; a trailer line
  static constexpr size_t kMaxTrailerLines = 32;

  enum class Status : uint8_t {
    kOk,     // everything taken; more may come
    kEnd,    // the last chunk and the trailers are done; bytes after it are not taken
    kError,  // malformed; error() says why
  };

  // Decodes `in`, appending body bytes to `*out`. After kEnd or kError nothing more is taken.
  Status Feed(std::string_view in, std::string* out);
  bool done() const { return state_ == State::kDone; }
  bool failed() const { return state_ == State::kFailed; }
  const std::string& error() const { return error_; }

 private:
  enum class State : uint8_t {
    kSize,        // hex digits of a chunk size
    kExtension,   // after ';' up to CR
    kSizeLf,      // CR seen after the size line
    kData,        // `remaining_` body bytes to copy
    kDataCr,      // the CRLF after a chunk's data
    kDataLf,
    kTrailer,     // a trailer line (or the final empty line)
    kTrailerLf,
    kDone,
    kFailed,
  };
  Status Fail(std::string why);

  State state_ = State::kSize;
  uint64_t size_ = 0;        // the size being read
  size_t size_digits_ = 0;
  uint64_t remaining_ = 0;   // data bytes left in this chunk
  size_t line_bytes_ = 0;    // bytes of the current size or trailer line
  size_t trailer_lines_ = 0;
  std::string error_;
};

}  // namespace strait::control
