// The API behind the HTTPS server (docs/control-plane.md §3, §4): for each request, in this order,
//   route (404 / 405 + Allow) -> credentials (401) -> the path's tenant (404 for another tenant's, as for one that
//   does not exist) -> who may call the route (403) -> rate limit (429) -> Content-Type (415) -> JSON body (400)
//   -> query (400) -> Idempotency-Key (400 / replay / 422) -> the route's handler.
// Every refusal is problem+json; an exception or a store I/O error is `500 internal`, counted and logged with the
// request id, never shown to the client.
// Thread-safety: Handle runs on the pool's threads at once; everything it shares is thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "control-plane/handlers/context.h"
#include "control-plane/handlers/rate_limiter.h"
#include "control-plane/http/server.h"

namespace strait::control {

struct DispatcherOptions {
  double rate_per_key = 50;
  double burst_per_key = 100;
  double rate_unauthenticated = 20;  // per source IP
  double activate_per_minute = 10;   // POST /v1/activate per source IP (§8), on top of rate_unauthenticated
  size_t rate_table_entries = 10'000;
};

struct DispatcherCounters {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> problems{0};
  std::atomic<uint64_t> internal{0};
  std::atomic<uint64_t> unauthenticated{0};
  std::atomic<uint64_t> rate_limited{0};
};

class Dispatcher : public http::Handler {
 public:
  // `routes` and `services` outlive the dispatcher. `log` receives one line per internal error (request id, reason).
  Dispatcher(std::span<const Route> routes, Services* services, DispatcherOptions options = {},
             std::function<void(std::string_view)> log = {});

  size_t BodyLimit(std::string_view method, std::string_view path) const override;
  http::Response Handle(const http::Request& request) override;
  http::Response Problem(http::ServerProblem problem, const http::Request& request, size_t limit) const override;

  const DispatcherCounters& counters() const { return counters_; }

 private:
  Outcome Dispatch(const http::Request& request, Principal* principal);
  // The reply stored under the request's Idempotency-Key (a replay, or 422 for another request), or nullopt.
  std::optional<Outcome> StoredReply(const Context& ctx) const;
  http::Response Render(const Outcome& outcome, const http::Request& request) const;

  std::span<const Route> routes_;
  std::vector<RouteSpec> specs_;
  Router router_;
  Services* services_;
  DispatcherOptions options_;
  std::function<void(std::string_view)> log_;
  RateLimiter per_key_;
  RateLimiter per_ip_;
  RateLimiter per_ip_activate_;
  mutable DispatcherCounters counters_;
  std::atomic<int64_t> notified_{0};  // the last event id the hub was told of
};

// The text of an API key, `sk_<12 base32>_<52 base32>` (§3), split into its id and secret; false if malformed.
bool ParseApiKey(std::string_view text, std::string_view* id, std::string_view* secret);

}  // namespace strait::control
