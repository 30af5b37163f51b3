// strait-control's maintenance thread (docs/control-plane.md §1 Threads, §6.5, §7.4): every `interval` it
//   - marks pending activations past expires_at as expired, and removes dead ones (expired, cancelled, burned) a
//     week after their expiry (kept that long so an admin can still list why a code did not work; used ones stay:
//     a device's activation_id names its activation);
//   - removes idempotency records past api/idempotency.h's kIdempotencyRetention (24 h), events older than
//     event_retention (but never one the hub's ring may still serve, nor the newest keep_events), audit older than
//     audit_retention, and denials past their `until` (no credential of the subject verifies any more);
//   - reissues each tenant's TenantCert with the same tenant key when a third of tenant_cert_days or less is left,
//     so the issuer's clipping (credentials never outlive their TenantCert) never shortens a credential much.
//
// Every purge goes in batches of `batch` rows, each in its own write transaction, so a pass never holds the writer
// lock for long; at most `max_batches` per kind per pass, so a pass is bounded too (the rest waits for the next).
//
// RunMaintenancePass does one pass at a given time and no waiting (a test calls it with a manual clock);
// MaintenanceThread runs it every interval on its own thread. Neither serves requests nor touches the network.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "control-plane/handlers/context.h"

namespace strait::control {

struct MaintenanceOptions {
  std::chrono::seconds interval{60};                     // `maintenance_interval_s`, 1..3600
  std::chrono::seconds event_retention{168 * 3600};      // `event_retention_hours`
  std::chrono::seconds audit_retention{365 * 86400};     // `audit_retention_days`
  std::chrono::seconds dead_activation_keep{7 * 86400};  // after expires_at
  size_t keep_events = 4096;  // the newest events stay whatever their age (the hub's ring size, §7.4)
  size_t batch = 1000;
  size_t max_batches = 100;
};

// What one pass did. `error` is the first store error; the pass stops there (the next one tries again).
struct MaintenanceReport {
  int64_t activations_expired = 0;
  int64_t activations_purged = 0;
  int64_t idempotency_purged = 0;
  int64_t events_purged = 0;
  int64_t audit_purged = 0;
  int64_t denials_purged = 0;
  int64_t tenant_certs_reissued = 0;
  std::optional<std::string> error;
  bool Changed() const {
    return activations_expired + activations_purged + idempotency_purged + events_purged + audit_purged +
               denials_purged + tenant_certs_reissued >
           0;
  }
};

// One pass at `now` (unix seconds) over services.store, reissuing with services.root and services.config
// (tenant_cert_days); services.hub, if set, bounds the event purge by what its ring holds. `stop`, if set, is
// checked between batches: a pass that sees it set returns what it did so far. [any thread; one pass at a time]
MaintenanceReport RunMaintenancePass(const Services& services, const MaintenanceOptions& options, int64_t now,
                                     const std::atomic<bool>* stop = nullptr);

// The thread: a pass every options.interval (the first one interval after Start), each at services.clock's time,
// and `on_pass` called on this thread with every report. Stop() (or the destructor) wakes it, waits for the pass
// under way to reach its next batch boundary, and joins. Services must outlive it.
class MaintenanceThread {
 public:
  using OnPass = std::function<void(const MaintenanceReport&)>;
  MaintenanceThread(const Services* services, MaintenanceOptions options, OnPass on_pass);
  ~MaintenanceThread();
  MaintenanceThread(const MaintenanceThread&) = delete;
  MaintenanceThread& operator=(const MaintenanceThread&) = delete;

  void Start();
  void Stop();
  // Runs the next pass now instead of at the end of the interval (tests, with a manual clock). [any]
  void RunSoon();

 private:
  void Run();

  // Immutable after construction.
  const Services* services_;
  const MaintenanceOptions options_;
  const OnPass on_pass_;
  // Guarded by mu_.
  std::mutex mu_;
  std::condition_variable wake_;
  bool soon_ = false;
  // Any thread.
  std::atomic<bool> stopping_{false};
  std::thread thread_;  // Start and Stop only
};

}  // namespace strait::control
