#include "control-plane/handlers/maintenance.h"

#include <algorithm>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "control-plane/api/idempotency.h"
#include "control-plane/events/hub.h"
#include "control-plane/handlers/issuer.h"
#include "crypto/credential.h"

namespace strait::control {
namespace {

// Runs `purge(tx)` in its own write transaction per batch until it removes fewer than a batch, max_batches pass, or
// `stop` is set; adds what it removed to `*count`. False: a store error (in `*error`).
template <class Purge>
bool Batches(const Services& services, const MaintenanceOptions& options, const std::atomic<bool>* stop,
             int64_t* count, std::optional<std::string>* error, Purge purge) {
  for (size_t i = 0; i < options.max_batches; ++i) {
    if (stop != nullptr && stop->load()) return true;
    auto tx = services.store->Write();
    if (!tx) {
      *error = tx.error().reason;
      return false;
    }
    store::StoreResult<int64_t> removed = purge(**tx);
    if (!removed) {
      *error = removed.error().reason;
      return false;
    }
    if (auto committed = (*tx)->Commit(); !committed) {
      *error = committed.error().reason;
      return false;
    }
    *count += *removed;
    if (*removed < static_cast<int64_t>(options.batch)) return true;
  }
  return true;
}

// §6.5: a TenantCert with a third of its life or less left is reissued for the same tenant key, from now (backdated
// as at creation) for tenant_cert_days. Tenants are read in pages; each reissue is its own write transaction with an
// audit record by the system.
bool ReissueTenantCerts(const Services& services, int64_t now, const std::atomic<bool>* stop, int64_t* count,
                        std::optional<std::string>* error) {
  const int64_t lifetime = int64_t{services.config.tenant_cert_days} * 86400;
  std::string after;
  while (true) {
    if (stop != nullptr && stop->load()) return true;
    std::vector<std::string> due;
    bool more = false;
    {
      auto rx = services.store->Read();
      if (!rx) {
        *error = rx.error().reason;
        return false;
      }
      auto page = (*rx)->ListTenants(after, store::kMaxPageLimit);
      if (!page) {
        *error = page.error().reason;
        return false;
      }
      for (const store::TenantRecord& t : page->items) {
        if ((t.tenant_cert_not_after - now) * 3 <= lifetime) due.push_back(t.id);
      }
      if (!page->items.empty()) after = page->items.back().id;
      more = page->more;
    }
    for (const std::string& id : due) {
      if (stop != nullptr && stop->load()) return true;
      auto tx = services.store->Write();
      if (!tx) {
        *error = tx.error().reason;
        return false;
      }
      const store::TenantScope scope(id);
      auto tenant = (*tx)->GetTenant(scope);
      if (!tenant) {
        *error = tenant.error().reason;
        return false;
      }
      // Deleted since the page was read, or reissued by another pass.
      if (!tenant->has_value() || ((*tenant)->tenant_cert_not_after - now) * 3 > lifetime) continue;
      store::TenantRecord rec = std::move(**tenant);
      crypto::Ed25519PublicKey key;
      // A tenant that cannot be reissued is reported and skipped: the tenants after it still get theirs.
      if (!crypto::Ed25519PublicKey::FromSpan(rec.signing_public, &key)) {
        if (!*error) *error = fmt::format("tenant {}: signing_public is not an Ed25519 key", id);
        continue;
      }
      const auto not_before = static_cast<uint64_t>(now - kCredentialBackdateSeconds);
      const auto not_after = static_cast<uint64_t>(now + lifetime);
      auto cert = crypto::IssueTenantCert(*services.root, {rec.id, key, not_before, not_after});
      if (!cert) {
        if (!*error) *error = fmt::format("tenant {}: TenantCert not issued: {}", id, cert.error().reason);
        continue;
      }
      const int64_t old_not_after = rec.tenant_cert_not_after;
      rec.tenant_cert = std::move(*cert);
      rec.tenant_cert_not_after = static_cast<int64_t>(not_after);
      rec.updated_at = now;
      store::AuditRecord audit;
      audit.at = now;
      audit.tenant = id;
      audit.actor_kind = store::ActorKind::kSystem;
      audit.actor_id = "maintenance";
      audit.action = "tenant_cert.reissue";
      audit.resource_type = "tenant";
      audit.resource_id = id;
      audit.detail = fmt::format(R"({{"old_not_after":{},"not_after":{}}})", old_not_after, not_after);
      store::StoreResult<void> done = [&]() -> store::StoreResult<void> {
        if (auto r = (*tx)->UpdateTenant(scope, rec); !r) return Fail(r.error());
        if (auto r = (*tx)->AppendAudit(audit); !r) return Fail(r.error());
        return (*tx)->Commit();
      }();
      if (!done) {
        *error = done.error().reason;
        return false;
      }
      ++*count;
    }
    if (!more) return !error->has_value();
  }
}

}  // namespace

MaintenanceReport RunMaintenancePass(const Services& services, const MaintenanceOptions& options, int64_t now,
                                     const std::atomic<bool>* stop) {
  MaintenanceReport r;
  const size_t batch = options.batch;
  auto run = [&](int64_t* count, auto purge) { return Batches(services, options, stop, count, &r.error, purge); };

  // TenantCerts first: an expired one takes every credential of its tenant down, so no purge error may skip it.
  if (services.root != nullptr) ReissueTenantCerts(services, now, stop, &r.tenant_certs_reissued, &r.error);
  if (!run(&r.activations_expired, [&](store::WriteTx& tx) { return tx.ExpireActivations(now, batch); })) return r;
  const int64_t dead_before = now - options.dead_activation_keep.count();
  if (!run(&r.activations_purged,
           [&](store::WriteTx& tx) { return tx.PurgeActivationsBefore(dead_before, batch); })) {
    return r;
  }
  const int64_t idem_before = now - kIdempotencyRetention.count();
  if (!run(&r.idempotency_purged,
           [&](store::WriteTx& tx) { return tx.PurgeIdempotencyBefore(idem_before, batch); })) {
    return r;
  }
  // Events: old enough, and below both the newest keep_events and what the hub's ring may serve (a stream reading
  // from the ring must find the same events a stream resuming from the store would).
  const store::EventId last = services.store->LastEventId();
  store::EventId up_to = last - static_cast<store::EventId>(options.keep_events);
  if (services.hub != nullptr) up_to = std::min(up_to, services.hub->RingFirstId() - 1);
  if (up_to > 0) {
    const int64_t events_before = now - options.event_retention.count();
    if (!run(&r.events_purged,
             [&](store::WriteTx& tx) { return tx.PurgeEventsBefore(events_before, up_to, batch); })) {
      return r;
    }
  }
  const int64_t audit_before = now - options.audit_retention.count();
  if (!run(&r.audit_purged, [&](store::WriteTx& tx) { return tx.PurgeAuditBefore(audit_before, batch); })) return r;
  if (!run(&r.denials_purged, [&](store::WriteTx& tx) { return tx.PurgeDenials(now, batch); })) return r;
  return r;
}

MaintenanceThread::MaintenanceThread(const Services* services, MaintenanceOptions options, OnPass on_pass)
    : services_(services), options_(options), on_pass_(std::move(on_pass)) {}

MaintenanceThread::~MaintenanceThread() { Stop(); }

void MaintenanceThread::Start() { thread_ = std::thread([this] { Run(); }); }

void MaintenanceThread::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void MaintenanceThread::RunSoon() {
  {
    std::lock_guard lock(mu_);
    soon_ = true;
  }
  wake_.notify_all();
}

void MaintenanceThread::Run() {
  std::unique_lock lock(mu_);
  while (true) {
    wake_.wait_for(lock, options_.interval, [this] { return stopping_.load() || soon_; });
    if (stopping_) return;
    soon_ = false;
    lock.unlock();
    MaintenanceReport report = RunMaintenancePass(*services_, options_, services_->clock->Now(), &stopping_);
    if (on_pass_) on_pass_(report);
    lock.lock();
  }
}

}  // namespace strait::control
