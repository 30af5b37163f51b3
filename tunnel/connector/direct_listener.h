// DirectListener: the connector's optional Direct Connect port (docs/protocol.md §12). Devices open TLS 1.3
// straight to it; TLS is transport only (a throwaway self-signed certificate made at start; devices do not
// verify it) and the Noise session authenticates both ends. The listener plays the relay's part:
//
//   login:            HELLO verified against the root key (role device), then the device's tenant must be the
//                     connector's: another tenant is closed with ERROR unauthorized right after login
//   SESSION_REQUEST:  answered with SESSION_OFFER on a new channel, offering this connector (its id and credential)
//   everything else:  forwarded to the owner (SESSION_INIT / sealed frames / SESSION_CLOSE of the channels)
//
// What it decides (the limits below, the tenant check, channels, what reaches the owner) is DirectGate's
// (direct_gate.h, no I/O); this class owns the sockets and links and does what the gate says.
// It owns the server links: the owner sees OnLinkUp / OnFrame / OnLinkDown for links that passed the tenant
// check, and must not destroy them (the listener does, after OnLinkDown). Threading: loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "crypto/keys.h"
#include "crypto/tls_context.h"
#include "logging/event.h"
#include "runtime/event_loop.h"
#include "runtime/net.h"
#include "tunnel/connector/direct_gate.h"
#include "tunnel/link/refusal_log.h"
#include "tunnel/link/tls_link.h"

namespace strait::connector {

struct DirectListenerOptions {
  runtime::SocketAddress listen;
  std::string connector_id;                 // our subject id, offered in SESSION_OFFER
  std::vector<std::uint8_t> credential;     // our credential, offered in SESSION_OFFER and shown in HELLO_ACK
                                            // (until SetCredential)
  crypto::Ed25519KeyPair signing_key;       // its key: the HELLO_ACK proof (protocol.md §3)
  std::string tenant;                       // devices must belong to it
  crypto::Ed25519PublicKey root_key;
  link::LinkOptions link;
  std::uint32_t max_links = 1024;           // Direct Connect links at once (logging in or up); more are closed
  // Logins in flight (link::LoginBudget): when full, the oldest login is closed to make room; one source (IPv4
  // address, IPv6 /64) holds at most max_logins_per_source of them and its next connection is refused. Sockets that
  // never log in therefore cannot fill max_links (issue 7: 1,100 of them let 0 of 20 logins through).
  std::uint32_t max_logins = 256;
  std::uint32_t max_logins_per_source = 64;
  std::uint32_t max_channels_per_link = 64; // SESSION_REQUESTs answered per link (channels are never reused)
  // One line per refusal ("direct connect refused from=IP:PORT reason=..."), at most 10 a second (the rest summed
  // up): a full listener, a source over its cap, a login closed to make room, a failed login, another tenant, the
  // session limit. Empty: not logged (still counted in DirectListenerStats).
  logging::Sink log;
};

// Counted by the listener's DirectGate (direct_gate.h, which holds what it decides).
using DirectListenerStats = DirectGateStats;

class DirectListener final : public runtime::AcceptHandler, private link::LinkHandler {
 public:
  DirectListener(runtime::EventLoop& loop, link::LinkLoopState& shared, const DirectListenerOptions& options,
                 link::LinkHandler& owner);
  ~DirectListener() override;
  DirectListener(const DirectListener&) = delete;
  DirectListener& operator=(const DirectListener&) = delete;

  // Makes the throwaway certificate, binds and listens. Returns an error line on failure.
  std::string Start();
  // Stops accepting and closes every link (their OnLinkDown still reach the owner).
  void Stop();

  // A renewed credential (Connector::SetCredential checked it): shown in the HELLO_ACKs and SESSION_OFFERs from
  // now on; links already up keep what they were shown.
  void SetCredential(std::vector<std::uint8_t> credential) { config_.server.credential = std::move(credential); }

  const runtime::SocketAddress& address() const { return bound_; }
  const DirectListenerStats& stats() const { return gate_.stats(); }
  std::size_t links() const { return links_.size(); }

  void OnAccept(runtime::EventLoop& loop, runtime::ListenerId id, int fd) override;

 private:
  struct LinkState {
    std::unique_ptr<link::TlsLink> link;
    runtime::SocketAddress peer;  // where it connected from (refusal logs)
  };
  std::optional<link::LoginRefusal> AdmitLogin(link::TlsLink& link, const link::PeerLogin& peer) override {
    return owner_.AdmitLogin(link, peer);  // a refused login is logged as login_failed (rate-limited) below
  }
  void OnLinkUp(link::TlsLink& link, const link::LinkIdentity& identity) override;
  void OnFrame(link::TlsLink& link, const link::Frame& frame) override;
  void OnLinkDown(link::TlsLink& link, const link::LinkDown& down) override;
  void OnSendQueueHigh(link::TlsLink& link) override;
  void OnSendQueueLow(link::TlsLink& link) override;
  void Offer(link::TlsLink& link, std::uint32_t channel);
  void LogRefusal(const runtime::SocketAddress& peer, std::vector<logging::Field> why);

  // Immutable after construction / Start.
  runtime::EventLoop& loop_;
  link::LinkLoopState& shared_;
  const DirectListenerOptions options_;
  link::LinkHandler& owner_;
  std::unique_ptr<crypto::TlsContext> tls_;
  link::LinkConfig config_;

  // Loop thread only.
  runtime::SocketAddress bound_;
  runtime::ListenerId listener_;
  bool listening_ = false;
  std::unordered_map<link::TlsLink*, LinkState> links_;
  DirectGate gate_;  // what to accept, admit, offer, forward and count; keyed by the link's address
  link::RefusalLog refusal_log_;
};

}  // namespace strait::connector
