#include "relay/shard.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>

#include <fmt/format.h>

#include "relay/credential_links.h"
#include "relay/registry.h"
#include "tunnel/frame.h"
#include "tunnel/frame_writer.h"
#include "tunnel/link_messages.h"
#include "tunnel/session.h"

namespace strait::relay {

namespace {

HandshakeResult ResultOf(const link::LinkDown& d) {
  switch (d.reason) {
    case link::DownReason::kLoginRefused:
    case link::DownReason::kProtocolError:
    case link::DownReason::kFrameError:
      switch (static_cast<ErrorCode>(d.code)) {
        case ErrorCode::kBadCredential:
          return HandshakeResult::kBadCredential;
        case ErrorCode::kBadProof:
          return HandshakeResult::kBadProof;
        case ErrorCode::kWrongRole:
          return HandshakeResult::kWrongRole;
        case ErrorCode::kUnsupportedVersion:
          return HandshakeResult::kUnsupportedVersion;
        case ErrorCode::kRevoked:
          return HandshakeResult::kRevoked;
        default:
          return HandshakeResult::kProtocolError;
      }
    case link::DownReason::kHandshakeTimeout:
      return HandshakeResult::kTimeout;
    case link::DownReason::kTlsError:
      return HandshakeResult::kTlsError;
    case link::DownReason::kPeerClosed:
    case link::DownReason::kSocketError:
    case link::DownReason::kPeerError:
      return HandshakeResult::kClosed;
    case link::DownReason::kOverloaded:
      return HandshakeResult::kOverloaded;
    default:
      return HandshakeResult::kOther;
  }
}

std::vector<std::uint8_t> SessionCloseFrame(std::uint32_t channel, ErrorCode code, std::string_view reason) {
  tunnel::SessionClose close;
  close.code = code;
  close.reason = std::span(reinterpret_cast<const std::uint8_t*>(reason.data()), reason.size());
  std::vector<std::uint8_t> payload(close.EncodedSize());
  (void)close.Encode(payload);
  std::vector<std::uint8_t> frame(tunnel::kHeaderSize + payload.size());
  (void)tunnel::EncodeFrame(FrameType::kSessionClose, 0, channel, payload, frame);
  return frame;
}

}  // namespace

Shard::Shard(Relay& relay, std::uint32_t index, std::size_t shard_count)
    : relay_(&relay),
      index_(index),
      logins_(relay.options_.max_handshakes_per_shard, relay.options_.max_handshakes_per_source),
      sessions_(relay.options_.credit_return_bytes) {
  in_.resize(shard_count);
  out_.resize(shard_count);
  if (shard_count > 1) {
    for (std::size_t s = 0; s < shard_count; ++s) {
      if (s != index) in_[s] = std::make_unique<SpscRing>(relay.options_.cross_shard_queue_bytes);
    }
  }
}

void Shard::Init(runtime::LoopGroup& group, runtime::EventLoop& loop) {
  group_ = &group;
  loop_ = &loop;
  identity_ = relay_->served_[index_];
  loop.SetMessageHandler(this);
  loop.AddBatchHandler(this);  // FlushDirty once per loop iteration
  scratch_.resize(tunnel::kMaxLinkFrameSize);
  if (index_ == 0) {
    auto d = loop.Listen(relay_->device_fd_, this);
    auto c = loop.Listen(relay_->connector_fd_, this);
    if (d.ok()) device_listener_ = *d;
    if (c.ok()) connector_listener_ = *c;
    relay_->device_fd_ = -1;
    relay_->connector_fd_ = -1;
  }
  loop.AddTimer(relay_->options_.metrics_interval, this, kTimerPublish);
}

void Shard::Log(const logging::Event& event) {
  if (relay_->options_.log) {
    relay_->options_.log(event);
  } else {
    fmt::print(stderr, "relay: {}\n", logging::Describe(event));
  }
}

void Shard::LogRefusal(bool connector, const runtime::SocketAddress& peer, std::vector<logging::Field> why) {
  const link::RefusalLog::Verdict v = refusal_log_.Admit(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                              std::chrono::steady_clock::now().time_since_epoch())
                                                              .count());
  if (v.not_logged > 0) {
    Log(logging::Event(logging::Level::kWarn, "login_refusals_not_logged")
            .With("count", v.not_logged)
            .With("shard", index_)
            .With("max_per_second", refusal_log_.per_second()));
  }
  if (!v.log) return;
  logging::Event e(logging::Level::kWarn, "login_refused");
  e.With("port", connector ? "connector" : "device").With("from", peer.ToString());
  for (logging::Field& f : why) e.With(f.key, f.value);
  Log(e);
}

// ---- accept and hand-off ----------------------------------------------------------------------------------

void Shard::OnAccept(runtime::EventLoop& /*loop*/, runtime::ListenerId id, int fd) {
  const bool connector = id.index == connector_listener_.index && id.gen == connector_listener_.gen;
  if (draining_) {
    ::close(fd);
    Drop(DropReason::kDraining);
    return;
  }
  const std::size_t n = group_->size();
  const std::size_t target = next_shard_++ % n;
  if (target == index_) {
    Adopt(fd, connector);
    return;
  }
  runtime::Message msg{connector ? kAdoptConnector : kAdoptDevice, fd, 0, 0};
  if (!loop_->PostTo(group_->loop(target), msg)) {
    ::close(fd);
    Drop(DropReason::kHandoffFailed);
  }
}

void Shard::Adopt(int fd, bool connector) {
  if (draining_) {
    ::close(fd);
    Drop(DropReason::kDraining);
    return;
  }
  const link::LoginPort port = connector ? link::LoginPort::kConnector : link::LoginPort::kDevice;
  auto peer = runtime::PeerAddress(fd);
  const std::uint64_t source = peer.ok() ? runtime::SourceKey(*peer) : 0;
  if (logins_.SourceFull(port, source)) {
    ::close(fd);
    Drop(DropReason::kSourceLimit);
    if (peer.ok()) LogRefusal(connector, *peer, {{"reason", "source_limit"}});
    return;
  }
  std::uint32_t slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else if (links_.size() < relay_->options_.max_links_per_shard) {
    slot = static_cast<std::uint32_t>(links_.size());
    links_.push_back(std::make_unique<Link>());
    links_.back()->shard = this;
    links_.back()->slot = slot;
  } else {
    ::close(fd);
    Drop(DropReason::kLinkLimit);
    return;
  }
  Link& l = *links_[slot];
  l.in_use = true;
  l.peer = peer.ok() ? *peer : runtime::SocketAddress{};
  l.up = false;
  l.connector = connector;
  l.gen = ++gen_counter_;
  l.identity = identity_;
  l.tls = std::make_unique<link::TlsLink>(*loop_, link_state_,
                                          connector ? l.identity->connector : l.identity->device, l);
  if (!l.tls->Accept(fd)) {
    ::close(fd);
    Drop(DropReason::kLinkLimit);
    Free(l);
    return;
  }
  ++m_.handshakes_in_flight;
  if (const auto evicted = logins_.Admit(port, source, Ref(l))) {
    // The port's budget was full: its oldest login makes room (a real client is done in milliseconds).
    Drop(DropReason::kHandshakeLimit);
    if (Link* old = Resolve(*evicted); old != nullptr && old->tls) {
      old->evicted = true;
      old->tls->Abort();
    }
  }
}

void Shard::Free(Link& l) {
  l.tls.reset();
  l.identity.reset();  // after its link: the link's config lives in it
  l.in_use = false;
  l.up = false;
  l.dirty = false;
  l.tenant.clear();
  l.subject.clear();
  l.preferred.clear();
  l.credential_key = {};
  l.refused.clear();
  l.channels.clear();
  if (l.pause_count > 0) --m_.paused_links;
  l.pause_count = 0;
  l.self_paused = false;
  l.evicted = false;
  l.denied = false;
  l.violations = 0;
  std::vector<std::uint8_t>().swap(l.held);
  ++l.gen;
  free_.push_back(l.slot);
}

// ---- link lifecycle ---------------------------------------------------------------------------------------

std::optional<link::LoginRefusal> Shard::Admit(Link& l, const link::PeerLogin& peer) {
  const crypto::VerifiedCredential& cred = peer.credential;
  const DenyKey key{cred.role, cred.tenant_id, cred.subject_id};
  const std::uint64_t now = CredentialNow();
  const DenyVerdict v = relay_->deny_list_->Check(key, now);
  if (v == DenyVerdict::kAllowed) return std::nullopt;
  l.denied = true;
  const LoginDenial why = v == DenyVerdict::kSubjectDenied ? LoginDenial::kRevoked : LoginDenial::kTenantSuspended;
  ++m_.logins_refused[static_cast<std::size_t>(why)];
  std::string denial_reason;
  if (v == DenyVerdict::kSubjectDenied) {
    if (std::optional<Denial> d = relay_->deny_list_->Find(key, now)) denial_reason = std::move(d->reason);
  }
  LogRefusal(l.connector, l.peer,
             {{"reason", std::string(kLoginDenialNames[static_cast<std::size_t>(why)])},
              {"role", l.connector ? "connector" : "device"},
              {"tenant", cred.tenant_id},
              {"subject", cred.subject_id},
              {"denial_reason", denial_reason}});
  return link::LoginRefusal{ErrorCode::kRevoked, v == DenyVerdict::kSubjectDenied
                                                     ? "credential revoked or locked by the control plane"
                                                     : "tenant suspended by the control plane"};
}

void Shard::OnUp(Link& l, link::TlsLink& tls, const link::LinkIdentity& id) {
  --m_.handshakes_in_flight;
  logins_.Done(Ref(l));
  ++m_.handshakes[static_cast<std::size_t>(HandshakeResult::kOk)];
  l.up = true;
  const crypto::VerifiedCredential& cred = id.peer->credential;
  l.tenant = cred.tenant_id;
  l.subject = cred.subject_id;
  l.preferred = id.peer->preferred_connector;
  if (l.connector) {
    ++m_.connector_links;
    relay_->registry_->Add(l.tenant, l.subject, Ref(l), id.peer->credential_bytes, cred.not_after);
  } else {
    ++m_.device_links;
  }
  Log(logging::Event(logging::Level::kInfo, "link_up")
          .With("role", l.connector ? "connector" : "device")
          .With("tenant", l.tenant)
          .With("subject", l.subject)
          .With("shard", index_)
          .With("expires", cred.not_after));
  l.credential_key = DenyKey{cred.role, l.tenant, l.subject};
  if (auto old = relay_->credential_links_->Add(l.credential_key, Ref(l), relay_->options_.max_links_per_credential)) {
    if (RefShard(*old) == index_) {
      CloseReplaced(*old);
    } else {
      RingRecord rec;
      rec.kind = kRecordCloseLink;
      rec.target = *old;
      CrossSend(RefShard(*old), rec, {}, false, nullptr);
    }
  }
  // Checked again now that the link is registered: a denial made between Admit and the Add above found no link
  // to close (Relay::CloseSubject lists CredentialLinks after changing the list), so either that close or this
  // check sees it.
  const std::uint64_t now = CredentialNow();
  if (const DenyVerdict v = relay_->deny_list_->Check(l.credential_key, now); v != DenyVerdict::kAllowed) {
    const std::optional<Denial> d = relay_->deny_list_->Find(l.credential_key, now);
    return CloseForDenial(l, v, d ? std::string_view(d->reason) : std::string_view());
  }
  if (draining_) SendGoAway(l);
  (void)tls;
}

bool Shard::Closable(const Link* l) {
  return l != nullptr && l->up && l->tls && l->tls->state() == link::LinkState::kUp;
}

void Shard::CloseDenied() {
  for (const Relay::PendingClose& c : relay_->TakeCloses(index_)) {
    Link* l = Resolve(c.link);
    if (!Closable(l)) continue;  // gone, or closing already (a second denial of the same link counts once)
    CloseForDenial(*l, c.why, c.reason);
  }
}

void Shard::CloseForDenial(Link& l, DenyVerdict why, std::string_view reason) {
  ++m_.links_revoked;
  Log(logging::Event(logging::Level::kWarn, "link_revoked")
          .With("role", l.connector ? "connector" : "device")
          .With("tenant", l.tenant)
          .With("subject", l.subject)
          .With("why", DenyVerdictName(why))
          .With("denial_reason", reason)
          .With("sessions", l.channels.size()));
  // Its sessions end as for any link that goes down (OnDown): device_gone to their connectors, connector_gone to
  // their devices, which ask again and get another connector.
  l.tls->Close(ErrorCode::kRevoked, why == DenyVerdict::kTenantSuspended
                                        ? "tenant suspended by the control plane"
                                        : "credential revoked or locked by the control plane");
}

void Shard::CloseReplaced(std::uint64_t ref) {
  Link* l = Resolve(ref);
  if (!Closable(l)) return;  // gone, or closing already
  ++m_.links_replaced;
  Log(logging::Event(logging::Level::kWarn, "link_replaced")
          .With("role", l->connector ? "connector" : "device")
          .With("tenant", l->tenant)
          .With("subject", l->subject)
          .With("why", "a newer login of the same credential took it over")
          .With("max_links_per_credential", relay_->options_.max_links_per_credential));
  l->tls->Close(ErrorCode::kUnauthorized, "replaced by a newer login of the same credential");
}

void Shard::OnDown(Link& l, const link::LinkDown& d) {
  if (!l.up) {
    --m_.handshakes_in_flight;
    logins_.Done(Ref(l));
    const HandshakeResult result = ResultOf(d);
    ++m_.handshakes[static_cast<std::size_t>(result)];
    if (l.denied) {
      // Logged by Admit, with the subject.
    } else if (l.evicted) {
      LogRefusal(l.connector, l.peer,
                 {{"reason", "handshake_limit"}, {"detail", "the oldest login, closed to make room"}});
    } else if (!draining_) {
      LogRefusal(l.connector, l.peer,
                 {{"result", std::string(kHandshakeResultNames[static_cast<std::size_t>(result)])},
                  {"reason", std::string(link::DownReasonName(d.reason))},
                  {"code", std::string(tunnel::ErrorCodeName(static_cast<ErrorCode>(d.code)))},
                  {"detail", d.message}});
    }
    Free(l);
    MaybeDrained();
    return;
  }
  Log(logging::Event(logging::Level::kInfo, "link_down")
          .With("role", l.connector ? "connector" : "device")
          .With("tenant", l.tenant)
          .With("subject", l.subject)
          .With("reason", link::DownReasonName(d.reason))
          .With("code", d.code)
          .With("sessions", l.channels.size()));
  if (d.reason == link::DownReason::kCredentialExpired) ++m_.links_expired;
  relay_->credential_links_->Remove(l.credential_key, Ref(l));
  if (l.connector) {
    --m_.connector_links;
    relay_->registry_->Remove(Ref(l));
  } else {
    --m_.device_links;
  }
  const ErrorCode code = l.connector ? ErrorCode::kConnectorGone : ErrorCode::kDeviceGone;
  const std::string_view reason = l.connector ? "connector link down" : "device link down";
  for (const std::uint32_t ch : l.channels) {
    const std::optional<std::uint64_t> removed = sessions_.Remove(ch, l.connector, Ref(l));
    if (!removed) continue;
    const std::uint64_t peer = *removed;
    if (!l.connector) {
      --m_.sessions;
      ++m_.sessions_closed;
    }
    RouteControl(peer, SessionCloseFrame(ch, code, reason));
  }
  l.channels.clear();
  Free(l);
  MaybeDrained();
}

// ---- sessions ---------------------------------------------------------------------------------------------

void Shard::SendRefusal(Link& l, ErrorCode code, std::string_view reason) {
  tunnel::ErrorMessage e;
  e.code = code;
  e.reason = std::span(reinterpret_cast<const std::uint8_t*>(reason.data()), reason.size());
  std::array<std::uint8_t, 64> payload{};
  auto n = e.Encode(payload);
  if (!n) return;
  if (l.tls->SendFrame(FrameType::kError, 0, 0, std::span(payload).first(*n)) == link::SendStatus::kOk) {
    m_.bytes_out += tunnel::kHeaderSize + *n;
  }
  MarkDirty(l);
}

void Shard::HandleSessionRequest(Link& dev, const link::Frame& f) {
  auto req = tunnel::SessionRequest::Decode(f.payload);
  if (!req) return Violation(dev, DropReason::kMalformed);
  if (draining_) {
    Drop(DropReason::kDraining);
    return SendRefusal(dev, ErrorCode::kNoConnector, "relay is draining");
  }
  if (dev.channels.size() >= relay_->options_.max_sessions_per_device) {
    Drop(DropReason::kTooManySessions);
    return SendRefusal(dev, ErrorCode::kTooManySessions, "session limit of this link reached");
  }
  std::string preferred(req->preferred_connector.begin(), req->preferred_connector.end());
  if (preferred.empty()) preferred = dev.preferred;
  auto choice =
      relay_->registry_->Pick(dev.tenant, preferred, CredentialNow(), dev.refused);
  if (!choice) {
    Drop(DropReason::kNoConnector);
    return SendRefusal(dev, ErrorCode::kNoConnector, "no live connector for the tenant");
  }
  // Relay-unique id: a per-shard counter (24 bits, never 0) above the shard index (8 bits).
  std::uint32_t id;
  do {
    session_counter_ = (session_counter_ + 1) & 0xffffffu;
    if (session_counter_ == 0) session_counter_ = 1;
    id = (session_counter_ << 8) | index_;
  } while (sessions_.Contains(id, false));
  sessions_.Add(id, false, Ref(dev), choice->link);
  dev.channels.push_back(id);
  ++m_.sessions;
  ++m_.sessions_opened;

  tunnel::SessionOffer offer;
  offer.connector_id = std::span(reinterpret_cast<const std::uint8_t*>(choice->subject.data()),
                                 choice->subject.size());
  offer.connector_credential = *choice->credential;
  std::array<std::uint8_t, 1 + 255 + 2 + 512> payload{};
  auto n = offer.Encode(payload);
  if (n && dev.tls->SendFrame(FrameType::kSessionOffer, 0, id, std::span(payload).first(*n)) ==
               link::SendStatus::kOk) {
    m_.bytes_out += tunnel::kHeaderSize + *n;
  }
  MarkDirty(dev);
  Log(logging::Event(logging::Level::kInfo, "session_up")
          .With("id", id)
          .With("tenant", dev.tenant)
          .With("device", dev.subject)
          .With("connector", choice->subject));
  if (RefShard(choice->link) == index_) {
    AddConnectorLeg(choice->link, id, Ref(dev));
  } else {
    RingRecord rec;
    rec.kind = kRecordAddLeg;
    rec.channel = id;
    rec.target = choice->link;
    rec.source = Ref(dev);
    CrossSend(RefShard(choice->link), rec, {}, false, nullptr);
  }
}

void Shard::NoteRefusedOffer(Link& dev, std::uint64_t connector) {
  ++m_.offers_refused;
  if (std::find(dev.refused.begin(), dev.refused.end(), connector) != dev.refused.end()) return;
  if (dev.refused.size() >= kMaxRefusedOffers) dev.refused.erase(dev.refused.begin());
  dev.refused.push_back(connector);
}

void Shard::AddConnectorLeg(std::uint64_t connector, std::uint32_t id, std::uint64_t device) {
  Link* c = Resolve(connector);
  if (c == nullptr || !c->up) {
    relay_->registry_->Release(connector);
    RouteControl(device, SessionCloseFrame(id, ErrorCode::kConnectorGone, "connector link down"));
    return;
  }
  sessions_.Add(id, true, Ref(*c), device);
  c->channels.push_back(id);
}

// ---- messages, timers, drain ------------------------------------------------------------------------------

void Shard::OnMessage(runtime::EventLoop& /*loop*/, const runtime::Message& msg) {
  switch (msg.kind) {
    case kAdoptDevice:
    case kAdoptConnector:
      Adopt(msg.fd, msg.kind == kAdoptConnector);
      return;
    case kDoorbell:
      DrainRing(static_cast<std::uint32_t>(msg.a));
      return;
    case kSpace:
      FlushStash(static_cast<std::uint32_t>(msg.a));
      return;
    case kDrain:
      StartDrain();
      return;
    case kCloseDenied:
      CloseDenied();
      return;
    case kIdentity:
      TakeIdentity();
      return;
    default:
      if (msg.fd >= 0) ::close(msg.fd);
      return;
  }
}

void Shard::TakeIdentity() {
  if (std::shared_ptr<const ServedIdentity> next = relay_->TakeIdentity(index_)) identity_ = std::move(next);
}

void Shard::SendGoAway(Link& l) {
  tunnel::GoAway g;
  g.code = ErrorCode::kShuttingDown;
  g.drain_ms = static_cast<std::uint32_t>(relay_->options_.drain_period.count());
  std::array<std::uint8_t, 6> payload{};
  (void)g.Encode(payload);
  if (l.tls->SendFrame(FrameType::kGoAway, 0, 0, payload) == link::SendStatus::kOk) {
    ++m_.goaway_sent;
    m_.bytes_out += tunnel::kHeaderSize + payload.size();
  }
  l.tls->Flush();
}

void Shard::StartDrain() {
  if (draining_) return;
  draining_ = true;
  if (index_ == 0) {
    if (device_listener_.valid()) loop_->CloseListener(device_listener_);
    if (connector_listener_.valid()) loop_->CloseListener(connector_listener_);
  }
  for (auto& lp : links_) {
    if (lp->in_use && lp->up) SendGoAway(*lp);
  }
  Log(logging::Event(logging::Level::kInfo, "draining")
          .With("shard", index_)
          .With("links", m_.device_links + m_.connector_links)
          .With("drain_ms", relay_->options_.drain_period.count()));
  if (!loop_->AddTimer(relay_->options_.drain_period, this, kTimerDrainClose).valid()) CloseAll();
  MaybeDrained();
}
void Shard::Publish() { relay_->Publish(index_, Snapshot()); }

void Shard::CloseAll() {
  drain_closed_ = true;
  for (auto& lp : links_) {
    if (lp->in_use && lp->tls) lp->tls->Close(ErrorCode::kShuttingDown, "relay shutting down");
  }
  MaybeDrained();
}
void Shard::MaybeDrained() {
  if (!draining_ || drained_reported_) return;
  for (auto& lp : links_) {
    if (lp->in_use) return;
  }
  if (!drain_closed_ && m_.device_links + m_.connector_links + m_.handshakes_in_flight > 0) return;
  drained_reported_ = true;
  relay_->drained_shards_.fetch_add(1);
}

MetricsSnapshot Shard::Snapshot() {
  MetricsSnapshot s = m_;
  s.link_stalls = loop_->stats().stalls;
  s.recv_starved = loop_->stats().recv_enobufs;
  s.socket_bytes_in = loop_->stats().recv_bytes;
  s.socket_bytes_out = loop_->stats().send_bytes;
  s.pings_unanswered = link_state_.stats.pings_unanswered;
  s.link_send_backlog_bytes = 0;
  for (const auto& lp : links_) {
    if (!lp->in_use || !lp->tls) continue;
    s.link_send_backlog_bytes += lp->tls->backlog_bytes() + lp->held.size();
    s.held_bytes += lp->held.size();
    if (lp->tls->conn().valid()) s.link_send_backlog_bytes += loop_->SendQueueBytes(lp->tls->conn());
  }
  s.cross_queue_bytes = 0;
  for (std::size_t t = 0; t < out_.size(); ++t) {
    if (t == index_ || !relay_->shards_[t]) continue;
    if (relay_->shards_[t]->in_[index_]) s.cross_queue_bytes += RingTo(static_cast<std::uint32_t>(t)).used();
    s.cross_queue_bytes += out_[t].stash.size();
  }
  return s;
}

void Shard::OnTimer(runtime::EventLoop& loop, runtime::TimerId /*id*/, std::uint64_t arg) {
  switch (arg) {
    case kTimerPublish:
      CloseDenied();  // closes queued while our mailbox was full (no wake-up reached us)
      TakeIdentity();  // likewise a renewal
      Publish();
      loop.AddTimer(relay_->options_.metrics_interval, this, kTimerPublish);
      return;
    case kTimerDoorbellRetry:
      doorbell_retry_ = false;
      for (std::uint32_t t = 0; t < out_.size(); ++t) {
        if (t != index_ && RingTo(t).used() > 0) Doorbell(t);
      }
      return;
    case kTimerDrainClose:
      CloseAll();
      return;
    case kTimerFlush:
      flush_timer_ = {};
      FlushDirty();
      return;
    default:
      return;
  }
}

}  // namespace strait::relay
