#include "tunnel/connector/direct_listener.h"

#include <unistd.h>

#include <chrono>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "crypto/x509_issue.h"
#include "tunnel/link_messages.h"

namespace strait::connector {

DirectListener::DirectListener(runtime::EventLoop& loop, link::LinkLoopState& shared,
                               const DirectListenerOptions& options, link::LinkHandler& owner)
    : loop_(loop),
      shared_(shared),
      options_(options),
      owner_(owner),
      gate_(DirectGateLimits{options.max_links, options.max_logins, options.max_logins_per_source,
                             options.max_channels_per_link}) {}

DirectListener::~DirectListener() = default;

std::string DirectListener::Start() {
  // A throwaway certificate: TLS here is transport only (protocol.md §12), devices do not verify it.
  auto ca = crypto::GenerateCa({"Strait connector Direct Connect (throwaway)", 365LL * 24 * 3600});
  if (!ca) return "direct connect certificate: " + ca.error().reason;
  crypto::LeafOptions leaf_options;
  leaf_options.common_name = "strait-connector";
  leaf_options.dns_names = {"localhost"};
  leaf_options.ip_addresses = {"127.0.0.1"};
  leaf_options.valid_seconds = 365LL * 24 * 3600;
  auto leaf = crypto::IssueLeafCertificate(*ca, leaf_options);
  if (!leaf) return "direct connect certificate: " + leaf.error().reason;
  const std::string chain = leaf->cert_pem + ca->cert_pem;
  auto tls = crypto::TlsContext::CreateServer({chain, leaf->key_pem});
  if (!tls) return "direct connect TLS: " + tls.error().reason;
  tls_ = std::make_unique<crypto::TlsContext>(std::move(*tls));

  config_.tls = tls_.get();
  config_.options = options_.link;
  config_.server.root_key = options_.root_key;
  config_.server.credential = options_.credential;
  config_.server.key = options_.signing_key;
  config_.server.roles = crypto::RoleSet{crypto::Role::kDevice};
  config_.server.relay_id = options_.connector_id;

  runtime::ListenOptions listen;  // idle sockets are not accepted until they send, or the ClientHello deadline
  listen.defer_accept_seconds = static_cast<int>((options_.link.client_hello_timeout.count() + 999) / 1000);
  auto fd = runtime::ListenTcp(options_.listen, listen);
  if (!fd) return "direct connect listen " + options_.listen.ToString() + ": " + fd.error().reason;
  auto local = runtime::LocalAddress(*fd);
  if (!local) {
    ::close(*fd);
    return "direct connect: " + local.error().reason;
  }
  bound_ = *local;
  auto id = loop_.Listen(*fd, this);
  if (!id) {
    ::close(*fd);
    return "direct connect: " + id.error().reason;
  }
  listener_ = *id;
  listening_ = true;
  return {};
}

void DirectListener::Stop() {
  if (listening_) {
    loop_.CloseListener(listener_);
    listening_ = false;
  }
  for (auto& [ptr, state] : links_) state.link->Abort();
}

namespace {
std::uint64_t LinkKey(const link::TlsLink* l) { return reinterpret_cast<std::uintptr_t>(l); }
}  // namespace

void DirectListener::OnAccept(runtime::EventLoop& /*loop*/, runtime::ListenerId /*id*/, int fd) {
  auto peer = runtime::PeerAddress(fd);
  const std::uint64_t source = peer.ok() ? runtime::SourceKey(*peer) : 0;
  const runtime::SocketAddress from = peer.ok() ? *peer : runtime::SocketAddress{};
  switch (gate_.OnAccept(source)) {
    case DirectGate::AcceptVerdict::kAccept: break;
    case DirectGate::AcceptVerdict::kRefuseSource:
      ::close(fd);
      LogRefusal(from, {{"reason", "source_limit"},
                        {"max_logins_per_source", std::to_string(options_.max_logins_per_source)}});
      return;
    case DirectGate::AcceptVerdict::kRefuseFull:
      ::close(fd);
      LogRefusal(from, {{"reason", "listener_full"}, {"max_links", std::to_string(options_.max_links)}});
      return;
  }
  auto link = std::make_unique<link::TlsLink>(loop_, shared_, config_, static_cast<link::LinkHandler&>(*this));
  link::TlsLink* raw = link.get();
  if (!raw->Accept(fd)) {
    ::close(fd);
    return;
  }
  LinkState& added = links_[raw];
  added.link = std::move(link);
  added.peer = from;
  if (const auto evicted = gate_.Admit(LinkKey(raw), source)) {
    // The oldest login makes room; its OnLinkDown erases it.
    auto old = links_.find(reinterpret_cast<link::TlsLink*>(static_cast<std::uintptr_t>(*evicted)));
    if (old != links_.end()) {
      LogRefusal(old->second.peer, {{"reason", "login_evicted"},
                                    {"detail", "the oldest login, closed to make room"},
                                    {"max_logins", std::to_string(options_.max_logins)}});
      old->second.link->Abort();
    }
  }
}

void DirectListener::OnLinkUp(link::TlsLink& link, const link::LinkIdentity& identity) {
  const bool same_tenant = identity.peer != nullptr && identity.peer->credential.tenant_id == options_.tenant;
  switch (gate_.OnLinkUp(LinkKey(&link), same_tenant)) {
    case DirectGate::UpVerdict::kUnknown: return;
    case DirectGate::UpVerdict::kRefuseTenant:
      if (auto it = links_.find(&link); it != links_.end()) {
        LogRefusal(it->second.peer, {{"reason", "other_tenant"},
                                     {"subject", identity.peer ? identity.peer->credential.subject_id : ""},
                                     {"tenant", identity.peer ? identity.peer->credential.tenant_id : ""}});
      }
      link.Close(tunnel::ErrorCode::kUnauthorized, "device belongs to another tenant");
      return;
    case DirectGate::UpVerdict::kAdmitted:
      owner_.OnLinkUp(link, identity);
      return;
  }
}

void DirectListener::Offer(link::TlsLink& link, std::uint32_t channel) {
  tunnel::SessionOffer offer;
  offer.connector_id = std::span(reinterpret_cast<const std::uint8_t*>(options_.connector_id.data()),
                                 options_.connector_id.size());
  offer.connector_credential = config_.server.credential;  // the one in service (SetCredential)
  std::vector<std::uint8_t> buf(offer.EncodedSize());
  auto n = offer.Encode(buf);
  if (!n) {
    link.Close(tunnel::ErrorCode::kInternal, "cannot encode SESSION_OFFER");
    return;
  }
  (void)link.SendFrame(tunnel::FrameType::kSessionOffer, 0, channel, std::span(buf).first(*n));
  link.Flush();
}

void DirectListener::OnFrame(link::TlsLink& link, const link::Frame& frame) {
  using Kind = DirectGate::FrameVerdict::Kind;
  const DirectGate::FrameVerdict v = gate_.OnFrame(LinkKey(&link), frame.header, frame.payload);
  switch (v.kind) {
    case Kind::kIgnore: return;
    case Kind::kOffer: Offer(link, v.channel); return;
    case Kind::kTooManySessions: {
      if (auto it = links_.find(&link); it != links_.end()) {
        LogRefusal(it->second.peer, {{"reason", "session_limit"},
                                     {"max_channels_per_link", std::to_string(options_.max_channels_per_link)}});
      }
      tunnel::ErrorMessage err;
      err.code = tunnel::ErrorCode::kTooManySessions;
      static constexpr char kReason[] = "direct connect session limit for this link";
      err.reason = std::span(reinterpret_cast<const std::uint8_t*>(kReason), sizeof kReason - 1);
      std::uint8_t buf[64];
      if (auto n = err.Encode(buf); n) (void)link.SendFrame(tunnel::FrameType::kError, 0, 0, std::span(buf, *n));
      link.Flush();
      return;
    }
    case Kind::kBadRequest: link.Close(tunnel::ErrorCode::kProtocolError, "bad SESSION_REQUEST"); return;
    case Kind::kNeverOffered:
      link.Close(tunnel::ErrorCode::kProtocolError, "frame for a channel never offered");
      return;
    case Kind::kForward: owner_.OnFrame(link, frame); return;
  }
}

void DirectListener::OnLinkDown(link::TlsLink& link, const link::LinkDown& down) {
  const bool closed_by_us = down.reason == link::DownReason::kLocalClose || down.reason == link::DownReason::kShutdown;
  const DirectGate::DownVerdict v = gate_.OnLinkDown(LinkKey(&link), down.was_up, closed_by_us);
  auto it = links_.find(&link);
  if (it == links_.end()) return;
  if (v.tell_owner) owner_.OnLinkDown(link, down);
  // Not logged: links we closed ourselves (evicted, already logged; or Stop) and those that logged in.
  if (v.login_failed) {
    LogRefusal(it->second.peer,
               {{"reason", "login_failed"},
                {"down", std::string(link::DownReasonName(down.reason))},
                {"code", std::string(tunnel::ErrorCodeName(static_cast<tunnel::ErrorCode>(down.code)))},
                {"detail", down.message}});
  }
  links_.erase(it);  // destroys the link: allowed in OnLinkDown
}

void DirectListener::LogRefusal(const runtime::SocketAddress& peer, std::vector<logging::Field> why) {
  if (!options_.log) return;
  const link::RefusalLog::Verdict v = refusal_log_.Admit(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                              std::chrono::steady_clock::now().time_since_epoch())
                                                              .count());
  if (v.not_logged > 0) {
    options_.log(logging::Event(logging::Level::kWarn, "direct_refusals_not_logged")
                     .With("count", v.not_logged)
                     .With("max_per_second", refusal_log_.per_second()));
  }
  if (!v.log) return;
  logging::Event e(logging::Level::kWarn, "direct_refused");
  e.With("from", peer.ToString());
  for (logging::Field& f : why) e.With(f.key, f.value);
  options_.log(e);
}

void DirectListener::OnSendQueueHigh(link::TlsLink& link) {
  if (gate_.admitted(LinkKey(&link))) owner_.OnSendQueueHigh(link);
}

void DirectListener::OnSendQueueLow(link::TlsLink& link) {
  if (gate_.admitted(LinkKey(&link))) owner_.OnSendQueueLow(link);
}

}  // namespace strait::connector
