#include "tunnel/control/chunked_decoder.h"

#include <algorithm>

#include <fmt/format.h>

namespace strait::control {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

ChunkedDecoder::Status ChunkedDecoder::Fail(std::string why) {
  state_ = State::kFailed;
  error_ = std::move(why);
  return Status::kError;
}

ChunkedDecoder::Status ChunkedDecoder::Feed(std::string_view in, std::string* out) {
  size_t i = 0;
  while (i < in.size()) {
    switch (state_) {
      case State::kDone:
        return Status::kEnd;
      case State::kFailed:
        return Status::kError;
      case State::kData: {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, in.size() - i));
        out->append(in.substr(i, n));
        i += n;
        remaining_ -= n;
        if (remaining_ == 0) state_ = State::kDataCr;
        continue;
      }
      default:
        break;
    }
    const char c = in[i++];
    switch (state_) {
      case State::kSize: {
        if (++line_bytes_ > kMaxLineBytes) return Fail("a chunk size line beyond its bound");
        const int v = HexValue(c);
        if (v >= 0) {
          size_ = size_ * 16 + static_cast<uint64_t>(v);
          if (++size_digits_ > 16 || size_ > kMaxChunkSize) return Fail("a chunk size beyond its bound");
          break;
        }
        if (size_digits_ == 0) return Fail("a chunk size line without a hex size");
        if (c == ';') {
          state_ = State::kExtension;
        } else if (c == '\r') {
          state_ = State::kSizeLf;
        } else {
          return Fail(fmt::format("a byte 0x{:02x} after a chunk size", static_cast<unsigned char>(c)));
        }
        break;
      }
      case State::kExtension:
        if (++line_bytes_ > kMaxLineBytes) return Fail("a chunk extension beyond its bound");
        if (c == '\r') state_ = State::kSizeLf;
        else if (c == '\n') return Fail("a bare LF in a chunk size line");
        break;
      case State::kSizeLf:
        if (c != '\n') return Fail("a chunk size line not ended by CRLF");
        line_bytes_ = 0;
        size_digits_ = 0;
        if (size_ == 0) {
          state_ = State::kTrailer;
        } else {
          remaining_ = size_;
          state_ = State::kData;
        }
        size_ = 0;
        break;
      case State::kDataCr:
        if (c != '\r') return Fail("chunk data longer than its size");
        state_ = State::kDataLf;
        break;
      case State::kDataLf:
        if (c != '\n') return Fail("chunk data not followed by CRLF");
        state_ = State::kSize;
        break;
      case State::kTrailer:
        if (c == '\r') {
          state_ = State::kTrailerLf;
          break;
        }
        if (c == '\n') return Fail("a bare LF in the trailers");
        if (++line_bytes_ > kMaxLineBytes) return Fail("a trailer line beyond its bound");
        break;
      case State::kTrailerLf:
        if (c != '\n') return Fail("a trailer line not ended by CRLF");
        if (line_bytes_ == 0) {
          state_ = State::kDone;
          return Status::kEnd;
        }
        if (++trailer_lines_ > kMaxTrailerLines) return Fail("too many trailer lines");
        line_bytes_ = 0;
        state_ = State::kTrailer;
        break;
      case State::kData:
      case State::kDone:
      case State::kFailed:
        break;  // handled above
    }
  }
  if (state_ == State::kDone) return Status::kEnd;
  if (state_ == State::kFailed) return Status::kError;
  return Status::kOk;
}

}  // namespace strait::control
