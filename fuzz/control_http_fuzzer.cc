// control_http_fuzzer: bytes as what strait-control (or whoever answers) sends the daemons' HTTPS client
// (tunnel/control/http_client.h): a response fed to HttpResponseReader in pieces (the first byte picks the piece
// size), then the end of stream; the body through DecodeProblem; the bytes as a URL through ParseHttpsUrl.
// Properties: nothing crashes, reads out of bounds or recurses on nesting; a taken response's body is within the
// bound; a refusal has a reason; a problem's name is [a-z0-9-] (or http-<status>) and its detail one line of at most
// 512 bytes; a parsed URL's port is not 0 and its authority is what it was given without the scheme.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tunnel/control/http_client.h"

namespace {

namespace control = strait::control;

void Check(bool ok) {
  if (!ok) std::abort();
}

constexpr size_t kMaxBody = 4096;  // small, so the fuzzer reaches the bound

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t piece = size_t{data[0]} + 1;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  control::HttpResponseReader reader(kMaxBody);
  bool failed = false;
  for (size_t at = 0; at < text.size() && !failed; at += piece) {
    auto r = reader.Feed(text.substr(at, piece));
    if (!r) {
      Check(!r.error().reason.empty());
      failed = true;
    }
  }
  if (!failed && !reader.done()) {
    auto r = reader.End();
    if (!r) Check(!r.error().reason.empty() && !reader.done());
  }
  if (reader.done()) {
    auto resp = reader.Take();
    if (resp) {
      Check(resp->body.size() <= kMaxBody);
      Check(resp->status >= 100 && resp->status <= 999);
      const control::ProblemInfo p = control::DecodeProblem(resp->status, resp->body);
      Check(p.detail.size() <= 512);
    } else {
      Check(!resp.error().reason.empty());
    }
  }

  const control::ProblemInfo p = control::DecodeProblem(400, text);
  Check(!p.name.empty() && p.detail.size() <= 512);
  for (char c : p.name) Check((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
  for (char c : p.detail) Check(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);

  auto u = control::ParseHttpsUrl(text);
  if (u) {
    Check(u->port != 0 && !u->host.empty());
    Check(text.substr(0, 8) == "https://");
  } else {
    Check(!u.error().reason.empty());
  }
  return 0;
}
