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
      logins_(options.max_logins, options.max_logins_per_source) {}

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
std::uint64_t LoginKey(const link::TlsLink* l) { return reinterpret_cast<std::uintptr_t>(l); }
}  // namespace

void DirectListener::OnAccept(runtime::EventLoop& /*loop*/, runtime::ListenerId /*id*/, int fd) {
  auto peer = runtime::PeerAddress(fd);
  const std::uint64_t source = peer.ok() ? runtime::SourceKey(*peer) : 0;
  const runtime::SocketAddress from = peer.ok() ? *peer : runtime::SocketAddress{};
  if (logins_.SourceFull(link::LoginPort::kDevice, source)) {
    ++stats_.refused_source;
    ::close(fd);
    LogRefusal(from, {{"reason", "source_limit"},
                      {"max_logins_per_source", std::to_string(options_.max_logins_per_source)}});
    return;
  }
  if (links_.size() - evicted_ >= options_.max_links) {
    ++stats_.refused_full;
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
  ++stats_.accepted;
  LinkState& added = links_[raw];
  added.link = std::move(link);
  added.peer = from;
  if (const auto evicted = logins_.Admit(link::LoginPort::kDevice, source, LoginKey(raw))) {
    ++stats_.logins_evicted;
    // The oldest login makes room; its OnLinkDown erases it.
    auto old = links_.find(reinterpret_cast<link::TlsLink*>(static_cast<std::uintptr_t>(*evicted)));
    if (old != links_.end() && !old->second.evicted) {
      old->second.evicted = true;
      ++evicted_;
      LogRefusal(old->second.peer, {{"reason", "login_evicted"},
                                    {"detail", "the oldest login, closed to make room"},
                                    {"max_logins", std::to_string(options_.max_logins)}});
      old->second.link->Abort();
    }
  }
}

void DirectListener::OnLinkUp(link::TlsLink& link, const link::LinkIdentity& identity) {
  logins_.Done(LoginKey(&link));
  auto it = links_.find(&link);
  if (it == links_.end()) return;
  if (identity.peer == nullptr || identity.peer->credential.tenant_id != options_.tenant) {
    ++stats_.refused_tenant;
    LogRefusal(it->second.peer, {{"reason", "other_tenant"},
                                 {"subject", identity.peer ? identity.peer->credential.subject_id : ""},
                                 {"tenant", identity.peer ? identity.peer->credential.tenant_id : ""}});
    link.Close(tunnel::ErrorCode::kUnauthorized, "device belongs to another tenant");
    return;
  }
  it->second.admitted = true;
  owner_.OnLinkUp(link, identity);
}

void DirectListener::Offer(link::TlsLink& link, LinkState& state) {
  if (state.next_channel > options_.max_channels_per_link) {
    ++stats_.refused_channels;
    LogRefusal(state.peer, {{"reason", "session_limit"},
                            {"max_channels_per_link", std::to_string(options_.max_channels_per_link)}});
    tunnel::ErrorMessage err;
    err.code = tunnel::ErrorCode::kTooManySessions;
    static constexpr char kReason[] = "direct connect session limit for this link";
    err.reason = std::span(reinterpret_cast<const std::uint8_t*>(kReason), sizeof kReason - 1);
    std::uint8_t buf[64];
    if (auto n = err.Encode(buf); n) (void)link.SendFrame(tunnel::FrameType::kError, 0, 0, std::span(buf, *n));
    link.Flush();
    return;
  }
  const std::uint32_t channel = state.next_channel++;
  tunnel::SessionOffer offer;
  offer.connector_id = std::span(reinterpret_cast<const std::uint8_t*>(options_.connector_id.data()),
                                 options_.connector_id.size());
  offer.connector_credential = options_.credential;
  std::vector<std::uint8_t> buf(offer.EncodedSize());
  auto n = offer.Encode(buf);
  if (!n) {
    link.Close(tunnel::ErrorCode::kInternal, "cannot encode SESSION_OFFER");
    return;
  }
  ++stats_.offers;
  (void)link.SendFrame(tunnel::FrameType::kSessionOffer, 0, channel, std::span(buf).first(*n));
  link.Flush();
}

void DirectListener::OnFrame(link::TlsLink& link, const link::Frame& frame) {
  auto it = links_.find(&link);
  if (it == links_.end() || !it->second.admitted) return;
  if (frame.header.channel == 0) {
    if (frame.header.type == tunnel::FrameType::kSessionRequest) {
      if (!tunnel::SessionRequest::Decode(frame.payload)) {
        link.Close(tunnel::ErrorCode::kProtocolError, "bad SESSION_REQUEST");
        return;
      }
      Offer(link, it->second);
    }
    return;  // other channel-0 frames: nothing for a connector to do
  }
  if (frame.header.channel >= it->second.next_channel) {
    link.Close(tunnel::ErrorCode::kProtocolError, "frame for a channel never offered");
    return;
  }
  owner_.OnFrame(link, frame);
}

void DirectListener::OnLinkDown(link::TlsLink& link, const link::LinkDown& down) {
  logins_.Done(LoginKey(&link));
  auto it = links_.find(&link);
  if (it == links_.end()) return;
  if (it->second.admitted) owner_.OnLinkDown(link, down);
  // Not logged: links we closed ourselves (evicted, already logged; or Stop) and those that logged in.
  if (!down.was_up && down.reason != link::DownReason::kLocalClose && down.reason != link::DownReason::kShutdown) {
    ++stats_.logins_failed;
    LogRefusal(it->second.peer,
               {{"reason", "login_failed"},
                {"down", std::string(link::DownReasonName(down.reason))},
                {"code", std::string(tunnel::ErrorCodeName(static_cast<tunnel::ErrorCode>(down.code)))},
                {"detail", down.message}});
  }
  if (it->second.evicted) --evicted_;
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
  auto it = links_.find(&link);
  if (it != links_.end() && it->second.admitted) owner_.OnSendQueueHigh(link);
}

void DirectListener::OnSendQueueLow(link::TlsLink& link) {
  auto it = links_.find(&link);
  if (it != links_.end() && it->second.admitted) owner_.OnSendQueueLow(link);
}

}  // namespace strait::connector
