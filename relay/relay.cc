#include "relay/relay.h"

#include <unistd.h>

#include <algorithm>
#include <ctime>

#include "relay/credential_links.h"
#include "relay/registry.h"
#include "relay/relay_internal.h"
#include "relay/shard.h"
#include "relay/spsc_ring.h"
#include "tunnel/session.h"

namespace strait::relay {

namespace {

// Loop connection slots and timers beyond one per link: the listeners' accept retries and the shard's own timers
// (publish, flush, doorbell retry, drain close).
constexpr std::uint32_t kLoopReserve = 64;

}  // namespace

// ---- Relay ------------------------------------------------------------------------------------------------------

runtime::SetupResult<std::unique_ptr<Relay>> Relay::Start(const RelayOptions& options,
                                                          const RelayIdentity& identity) {
  if (options.threads < 1 || options.threads > 64) return runtime::SetupError{0, "threads must be 1..64"};
  if (identity.tls == nullptr || !identity.tls->is_server()) {
    return runtime::SetupError{0, "relay needs a TLS server context"};
  }
  if (options.max_links_per_shard == 0 || options.max_links_per_shard > (1u << 24) - kLoopReserve) {
    return runtime::SetupError{0, "max_links_per_shard must be 1..16777152 (link refs carry a 24-bit slot)"};
  }
  if (options.max_links_per_credential == 0) {
    return runtime::SetupError{0, "max_links_per_credential must be at least 1"};
  }
  if (options.deny.max_denials == 0 || options.deny.max_suspended_tenants == 0) {
    return runtime::SetupError{0, "deny.max_denials and deny.max_suspended_tenants must be at least 1"};
  }
  if (options.credit_return_bytes == 0 || options.credit_return_bytes > tunnel::kInitialRelayCredit / 2) {
    return runtime::SetupError{0, "credit_return_bytes must be 1..kInitialRelayCredit / 2"};
  }
  if (options.cross_shard_queue_bytes < 4 * (tunnel::kMaxLinkFrameSize + sizeof(RingRecord))) {
    return runtime::SetupError{0, "cross_shard_queue_bytes must hold at least 4 full frames"};
  }
  std::unique_ptr<Relay> r(new Relay);
  r->options_ = options;
  // Every link holds one connection slot and one loop timer (its own; once it closes, the runtime's graceful-close
  // timer instead), so size each shard's loop for max_links_per_shard: with the runtime defaults (4096 each) link
  // 4096+ found no free timer and was closed during login, unseen (docs/relay.md "Limits").
  runtime::LoopOptions& lo = r->options_.loop;
  lo.max_connections = std::max(lo.max_connections, options.max_links_per_shard + kLoopReserve);
  lo.max_timers = std::max(lo.max_timers, options.max_links_per_shard + kLoopReserve);
  r->identity_ = identity;
  r->registry_ = std::make_unique<Registry>();
  r->credential_links_ = std::make_unique<CredentialLinks>();
  r->deny_list_ = std::make_unique<DenyList>(options.deny);
  r->pending_closes_.resize(options.threads);
  r->pending_identity_.resize(options.threads);
  // The caller's context, not owned (it outlives the relay): shared by every shard until a renewal.
  r->served_.assign(options.threads, r->MakeServed(std::shared_ptr<const crypto::TlsContext>(
                                                      identity.tls, [](const crypto::TlsContext*) {}),
                                                  identity.credential));

  // Idle sockets are not even accepted until they send something, or for as long as the ClientHello deadline.
  runtime::ListenOptions listen;
  listen.defer_accept_seconds = static_cast<int>((options.link.client_hello_timeout.count() + 999) / 1000);
  auto dfd = runtime::ListenTcp(options.device_listen, listen);
  if (!dfd.ok()) return runtime::SetupError{dfd.error().err, "device port: " + dfd.error().reason};
  r->device_fd_ = *dfd;
  auto cfd = runtime::ListenTcp(options.connector_listen, listen);
  if (!cfd.ok()) {
    ::close(r->device_fd_);
    return runtime::SetupError{cfd.error().err, "connector port: " + cfd.error().reason};
  }
  r->connector_fd_ = *cfd;
  r->device_address_ = runtime::LocalAddress(r->device_fd_).value();
  r->connector_address_ = runtime::LocalAddress(r->connector_fd_).value();

  r->snapshots_.resize(options.threads);
  for (std::size_t i = 0; i < options.threads; ++i) {
    r->shards_.push_back(std::make_unique<Shard>(*r, static_cast<std::uint32_t>(i), options.threads));
  }
  Relay* self = r.get();
  auto group = runtime::LoopGroup::Start(options.threads, r->options_.loop,
                                         [self](runtime::LoopGroup& g, runtime::EventLoop& loop, std::size_t i) {
                                           self->shards_[i]->Init(g, loop);
                                         });
  if (!group.ok()) {
    if (r->device_fd_ >= 0) ::close(r->device_fd_);
    if (r->connector_fd_ >= 0) ::close(r->connector_fd_);
    return group.error();
  }
  r->group_ = std::move(group).value();
  return r;
}

Relay::~Relay() { Stop(); }

std::shared_ptr<const ServedIdentity> Relay::MakeServed(std::shared_ptr<const crypto::TlsContext> tls,
                                                        const std::vector<std::uint8_t>& credential) const {
  auto s = std::make_shared<ServedIdentity>();
  s->tls = std::move(tls);
  auto make_config = [&](crypto::Role role) {
    link::LinkConfig c;
    c.tls = s->tls.get();
    c.options = options_.link;
    c.server.root_key = identity_.root_key;
    c.server.roles = crypto::RoleSet{role};
    c.server.now_unix = identity_.now_unix;
    c.server.credential = credential;
    c.server.key = identity_.signing_key;
    c.server.relay_id = identity_.relay_id;
    return c;
  };
  s->device = make_config(crypto::Role::kDevice);
  s->connector = make_config(crypto::Role::kConnector);
  return s;
}

Result<void, std::string> Relay::Renew(const RelayRenewal& renewal) {
  const std::uint64_t now = identity_.now_unix ? identity_.now_unix()
                                               : static_cast<std::uint64_t>(std::time(nullptr));
  std::lock_guard renew_lock(renew_mu_);  // one renewal at a time: the check against the one in service, the posts
  if (identity_.credential.empty()) return Fail(std::string("the relay started without a credential"));
  auto renewed = link::CheckRenewedCredential(renewal.credential, identity_.credential, identity_.root_key, now);
  if (!renewed) return Fail("credential: " + renewed.error());
  // Made here, not on the shards: PEM parsing and the key check stay off the loops. One context per shard.
  std::vector<std::shared_ptr<const ServedIdentity>> per_shard;
  for (std::size_t i = 0; i < served_.size(); ++i) {
    std::shared_ptr<const crypto::TlsContext> tls = served_[i]->tls;
    if (!renewal.tls.cert_chain_pem.empty()) {
      auto ctx = crypto::TlsContext::CreateServer(renewal.tls);
      if (!ctx) return Fail("TLS: " + ctx.error().reason);
      tls = std::make_shared<const crypto::TlsContext>(std::move(*ctx));
    }
    per_shard.push_back(MakeServed(std::move(tls), renewal.credential));
  }
  identity_.credential = renewal.credential;
  served_ = per_shard;
  for (std::size_t i = 0; i < per_shard.size(); ++i) {
    {
      std::lock_guard lock(identity_mu_);
      pending_identity_[i] = std::move(per_shard[i]);
    }
    // Refused (mailbox full, loop stopping): the shard's metrics tick takes it.
    if (group_) (void)group_->loop(i).Post({kIdentity, -1, 0, 0});
  }
  return {};
}

std::shared_ptr<const ServedIdentity> Relay::TakeIdentity(std::size_t shard) {
  std::lock_guard lock(identity_mu_);
  return std::move(pending_identity_[shard]);
}

void Relay::Drain() {
  if (draining_.exchange(true) || !group_) return;
  for (std::size_t i = 0; i < group_->size(); ++i) {
    if (!group_->loop(i).Post({kDrain, -1, 0, 0})) drained_shards_.fetch_add(1);  // loop already stopping
  }
}

bool Relay::Drained() const { return group_ && drained_shards_.load() >= group_->size(); }

void Relay::Stop() {
  if (group_) {
    group_->Stop();
    group_.reset();
  }
  shards_.clear();
  if (device_fd_ >= 0) ::close(device_fd_);
  if (connector_fd_ >= 0) ::close(connector_fd_);
  device_fd_ = connector_fd_ = -1;
}

void Relay::Publish(std::size_t shard, const MetricsSnapshot& s) {
  std::lock_guard lock(snapshot_mu_);
  snapshots_[shard] = s;
}

MetricsSnapshot Relay::Snapshot() const {
  std::lock_guard lock(snapshot_mu_);
  MetricsSnapshot total;
  for (const auto& s : snapshots_) total.Add(s);
  total.denials = deny_list_->denials();
  total.suspended_tenants = deny_list_->suspended_tenants();
  total.denials_evicted = deny_list_->evicted();
  total.suspensions_dropped = deny_list_->overflow();
  return total;
}

// ---- denials ----------------------------------------------------------------------------------------------------

void Relay::QueueClose(PendingClose close) {
  const std::uint32_t shard = RefShard(close.link);
  bool wake = false;
  {
    std::lock_guard lock(close_mu_);
    if (shard >= pending_closes_.size()) return;
    std::vector<PendingClose>& q = pending_closes_[shard];
    wake = q.empty();  // otherwise a wake-up is in flight, or the mailbox was full and the publish tick takes them
    q.push_back(std::move(close));
  }
  if (wake && group_) (void)group_->loop(shard).Post({kCloseDenied, -1, 0, 0});
}

std::vector<Relay::PendingClose> Relay::TakeCloses(std::size_t shard) {
  std::vector<PendingClose> out;
  std::lock_guard lock(close_mu_);
  out.swap(pending_closes_[shard]);
  return out;
}

std::size_t Relay::CloseSubject(const DenyKey& key, std::string_view reason) {
  const std::vector<std::uint64_t> links = credential_links_->LinksOf(key);
  for (const std::uint64_t link : links) {
    QueueClose({link, DenyVerdict::kSubjectDenied, std::string(reason)});
  }
  return links.size();
}

std::size_t Relay::CloseTenant(const std::string& tenant) {
  const std::vector<std::uint64_t> links = credential_links_->LinksOfTenant(tenant);
  for (const std::uint64_t link : links) QueueClose({link, DenyVerdict::kTenantSuspended, {}});
  return links.size();
}

std::size_t Relay::CloseDenied(std::uint64_t now) {
  std::size_t n = 0;
  for (const auto& [key, links] : credential_links_->All()) {
    const DenyVerdict v = deny_list_->Check(key, now);
    if (v == DenyVerdict::kAllowed) continue;
    std::string reason;
    if (v == DenyVerdict::kSubjectDenied) {
      if (auto d = deny_list_->Find(key, now)) reason = std::move(d->reason);
    }
    for (const std::uint64_t link : links) QueueClose({link, v, reason});
    n += links.size();
  }
  return n;
}

}  // namespace strait::relay
