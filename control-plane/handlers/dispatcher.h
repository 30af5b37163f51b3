// The API behind the HTTPS server (docs/control-plane.md §3, §4): for each request, in this order,
//   route (404 / 405 + Allow) -> credentials (401) -> the path's tenant (404 for another tenant's, as for one that
//   does not exist) -> who may call the route (403) -> rate limit (429) -> Content-Type (415) -> JSON body (400)
//   -> query (400) -> Idempotency-Key (400 / replay / 422) -> the route's handler.
// Every refusal is problem+json; an exception or a store I/O error is `500 internal`, counted and logged with the
// request id, never shown to the client.
// Thread-safety: Handle runs on the pool's threads at once; everything it shares is thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "control-plane/api/problem.h"
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
  std::atomic<uint64_t> internal{0};
  std::atomic<uint64_t> unauthenticated{0};
  std::atomic<uint64_t> rate_limited{0};
  std::array<std::atomic<uint64_t>, kProblemTypeCount> by_problem{};  // problem+json answers by type
};

// The status classes answers are counted by (strait_control_requests_total{route,status}).
inline constexpr std::array<std::string_view, 4> kStatusClasses = {"2xx", "3xx", "4xx", "5xx"};

class Dispatcher : public http::Handler {
 public:
  // `routes` and `services` outlive the dispatcher. `log` receives one line per internal error (request id, reason).
  Dispatcher(std::span<const Route> routes, Services* services, DispatcherOptions options = {},
             std::function<void(std::string_view)> log = {});

  size_t BodyLimit(std::string_view method, std::string_view path) const override;
  http::Response Handle(const http::Request& request) override;
  http::Response Problem(http::ServerProblem problem, const http::Request& request, size_t limit) const override;

  const DispatcherCounters& counters() const { return counters_; }
  // [any] Answers for routes()[route] (route == routes().size(): none matched) in status class kStatusClasses[c].
  uint64_t answered(size_t route, size_t c) const { return by_route_[route * kStatusClasses.size() + c].load(); }
  std::span<const Route> routes() const { return routes_; }

 private:
  // *route: the matched route's index (left alone when none matched).
  Outcome Dispatch(const http::Request& request, Principal* principal, size_t* route);
  void CountAnswer(size_t route, uint16_t status) const;
  // The index of the route `method` `path` matches, or routes().size().
  size_t RouteOf(std::string_view method, std::string_view path) const;
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
  std::unique_ptr<std::atomic<uint64_t>[]> by_route_;  // (routes + 1) x status classes
  std::atomic<int64_t> notified_{0};  // the last event id the hub was told of
};

// The text of an API key, `sk_<12 base32>_<52 base32>` (§3), split into its id and secret; false if malformed.
bool ParseApiKey(std::string_view text, std::string_view* id, std::string_view* secret);

}  // namespace strait::control
