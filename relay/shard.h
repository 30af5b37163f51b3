// Shard: one relay loop thread's links, its legs of the session table, its cross-shard rings (consumer ends here,
// producer state toward the others), flush and backpressure, messages, timers and drain (docs/relay.md "Threads").
// Relay (relay.cc) wires the shards together; the behaviour lives here: shard.cc holds construction, accept and
// hand-off, link lifecycle, sessions, messages, timers and drain; shard_forward.cc holds backpressure, frame
// routing, flushing and the cross-shard rings. Internal to the relay library: include it from nowhere else.
//
// Threading: everything runs on the shard's own loop thread, except the constructor (Relay::Start, before the
// loops run).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "logging/event.h"
#include "relay/deny_list.h"
#include "relay/drop_reason.h"
#include "tunnel/link/login_budget.h"
#include "tunnel/link/refusal_log.h"
#include "relay/metrics.h"
#include "relay/relay.h"
#include "relay/relay_internal.h"
#include "relay/session_table.h"
#include "relay/spsc_ring.h"
#include "runtime/event_loop.h"
#include "runtime/loop_group.h"
#include "tunnel/link/tls_link.h"

namespace strait::relay {

// One shard: a loop thread's links, its half of every session table entry, its rings' consumer ends.
class Shard final : public runtime::MessageHandler,
                    public runtime::AcceptHandler,
                    private runtime::BatchHandler,
                    private runtime::TimerHandler {
 public:
  Shard(Relay& relay, std::uint32_t index, std::size_t shard_count);

  // [shard thread] Before Run().
  void Init(runtime::LoopGroup& group, runtime::EventLoop& loop);

 private:
  struct Out {  // our producer side of the ring to one other shard
    std::vector<std::uint8_t> stash;  // records that did not fit, in order (only while the ring is full)
    std::vector<std::uint64_t> paused;  // our links paused until the stash drains
  };

  struct Link final : link::LinkHandler {
    Shard* shard = nullptr;
    std::uint32_t slot = 0;
    std::uint32_t gen = 0;
    bool in_use = false;
    bool up = false;
    bool connector = false;
    bool dirty = false;
    std::shared_ptr<const ServedIdentity> identity;  // what `tls` was made with (its config); outlives it
    std::unique_ptr<link::TlsLink> tls;
    std::string tenant;
    std::string subject;
    std::string preferred;  // HELLO preferred_connector (devices)
    DenyKey credential_key;  // role, tenant, subject: its entry in the relay's CredentialLinks (when up)
    std::vector<std::uint64_t> refused;  // devices: connector links it refused (SESSION_CLOSE bad_credential)
    std::vector<std::uint32_t> channels;
    std::uint32_t pause_count = 0;
    runtime::SocketAddress peer;  // where it connected from (for refusal logs)
    bool evicted = false;         // its login was closed to make room (login budget)
    bool denied = false;          // its login was refused by the denial list (logged and counted by Admit)
    bool self_paused = false;  // our send side to it is over the high mark: we stop reading it too (OnHigh)
    std::uint32_t violations = 0;
    // Frames for this link that its send side refused, sent first, in order, on low. Never a reason to stop
    // reading another link: what each session's sender may have here is bounded by its relay credit.
    std::vector<std::uint8_t> held;

    std::optional<link::LoginRefusal> AdmitLogin(link::TlsLink& /*l*/, const link::PeerLogin& p) override {
      return shard->Admit(*this, p);
    }
    void OnLinkUp(link::TlsLink& l, const link::LinkIdentity& id) override { shard->OnUp(*this, l, id); }
    void OnFrame(link::TlsLink& /*l*/, const link::Frame& f) override { shard->OnFrame(*this, f); }
    void OnLinkDown(link::TlsLink& /*l*/, const link::LinkDown& d) override { shard->OnDown(*this, d); }
    void OnSendQueueHigh(link::TlsLink& /*l*/) override { shard->OnHigh(*this); }
    void OnSendQueueLow(link::TlsLink& /*l*/) override { shard->OnLow(*this); }
  };

  std::uint64_t Ref(const Link& l) const { return PackRef(index_, l.slot, l.gen); }
  Link* Resolve(std::uint64_t ref) {
    if (RefShard(ref) != index_) return nullptr;
    const std::uint32_t slot = RefSlot(ref);
    if (slot >= links_.size()) return nullptr;
    Link& l = *links_[slot];
    return l.in_use && l.gen == RefGen(ref) ? &l : nullptr;
  }
  void Drop(DropReason r) { ++m_.drops[static_cast<std::size_t>(r)]; }
  void Log(const logging::Event& event);
  // A refused or closed login (event login_refused with port, from and `why`), at most 10 a second per shard
  // (link::RefusalLog; the rest are summed up in one login_refusals_not_logged event).
  void LogRefusal(bool connector, const runtime::SocketAddress& peer, std::vector<logging::Field> why);

  // ---- accept and hand-off (shard.cc) -----------------------------------------------------------------------

  void OnAccept(runtime::EventLoop& loop, runtime::ListenerId id, int fd) override;
  void Adopt(int fd, bool connector);
  void Free(Link& l);

  // ---- link lifecycle (shard.cc) ----------------------------------------------------------------------------

  // The denial list's check of a login whose credential verified (docs/control-plane.md §7.3): nullopt admits it;
  // a refusal (ERROR revoked) is counted in logins_refused and logged here.
  std::optional<link::LoginRefusal> Admit(Link& l, const link::PeerLogin& peer);
  void OnUp(Link& l, link::TlsLink& tls, const link::LinkIdentity& id);
  void OnDown(Link& l, const link::LinkDown& d);

  // ---- backpressure (shard_forward.cc) ----------------------------------------------------------------------

  void Pause(Link& l);
  void Resume(Link& l);
  void ResumeRef(std::uint64_t ref);
  void OnHigh(Link& dst);
  void OnLow(Link& dst);
  bool SendHeld(Link& dst);

  // ---- relay credit (shard_forward.cc; protocol.md §8) ------------------------------------------------------

  // A session frame went into dst's send side: once enough is owed, its sender gets the credit back.
  void Delivered(Link& dst, const tunnel::FrameHeader& h, std::size_t frame_bytes);
  // Credit for the link `src` (any shard) on its session `ch`: SESSION_CREDIT to it, if the session lives.
  void ReturnCredit(std::uint64_t src, std::uint32_t ch, std::uint32_t amount);
  void CreditLeg(Link& src, std::uint32_t ch, std::uint32_t amount);

  // ---- frames (shard_forward.cc) ----------------------------------------------------------------------------

  void Violation(Link& l, DropReason r);
  void OnFrame(Link& l, const link::Frame& f);
  Deliver DeliverTo(Link& dst, std::span<const std::uint8_t> bytes, bool datagram);
  void MarkDirty(Link& l);
  void OnBatchEnd(runtime::EventLoop& loop) override;
  void FlushDirty();
  void RouteControl(std::uint64_t target, const std::vector<std::uint8_t>& frame);
  void RemoveLeg(Link& l, std::uint32_t ch);

  // ---- sessions (shard.cc) ----------------------------------------------------------------------------------

  void SendRefusal(Link& l, ErrorCode code, std::string_view reason);
  // A device closed a session with bad_credential: it refused the connector offered (protocol.md §5 step 4), so
  // that connector link is not offered to it again (the last kMaxRefusedOffers are kept).
  void NoteRefusedOffer(Link& dev, std::uint64_t connector);
  static constexpr std::size_t kMaxRefusedOffers = 8;
  // Closes the link `ref` (any shard): a newer login of its credential subject took it over the limit.
  void CloseReplaced(std::uint64_t ref);
  // Up and not closing yet: a close (replaced, denied) applies to it once.
  static bool Closable(const Link* l);
  // Closes the links the relay queued for us (Relay::CloseSubject / CloseTenant / CloseDenied): ERROR revoked,
  // counted in links_revoked and logged (link_revoked). Links gone meanwhile are skipped.
  void CloseDenied();
  void CloseForDenial(Link& l, DenyVerdict why, std::string_view reason);
  void HandleSessionRequest(Link& dev, const link::Frame& f);
  void AddConnectorLeg(std::uint64_t connector, std::uint32_t id, std::uint64_t device);

  // ---- cross-shard rings (shard_forward.cc) -----------------------------------------------------------------

  SpscRing& RingTo(std::uint32_t shard) { return *relay_->shards_[shard]->in_[index_]; }
  void CrossSend(std::uint32_t shard, const RingRecord& rec, std::span<const std::uint8_t> bytes, bool datagram,
                 Link* src);
  void FlushStash(std::uint32_t shard);
  void Doorbell(std::uint32_t shard);
  void DrainRing(std::uint32_t src);

  // ---- messages, timers, drain (shard.cc) -------------------------------------------------------------------

  void OnMessage(runtime::EventLoop& loop, const runtime::Message& msg) override;
  void SendGoAway(Link& l);
  // Takes the identity Relay::Renew posted, if any: the links accepted from now on are made with it.
  void TakeIdentity();
  std::uint64_t CredentialNow() const { return link::CredentialNow(identity_->device.server); }

 public:
  void StartDrain();
  void Publish();

 private:
  void CloseAll();
  void MaybeDrained();
  MetricsSnapshot Snapshot();
  void OnTimer(runtime::EventLoop& loop, runtime::TimerId id, std::uint64_t arg) override;

  Relay* const relay_;
  const std::uint32_t index_;
  runtime::LoopGroup* group_ = nullptr;
  runtime::EventLoop* loop_ = nullptr;
  link::LinkLoopState link_state_;
  std::shared_ptr<const ServedIdentity> identity_;  // what the next accepted link is made with (Relay::Renew)
  link::LoginBudget logins_;  // logins in flight, per port and per source
  runtime::ListenerId device_listener_;
  runtime::ListenerId connector_listener_;
  std::size_t next_shard_ = 0;
  std::uint32_t gen_counter_ = 0;
  std::uint32_t session_counter_ = 0;
  std::vector<std::unique_ptr<Link>> links_;
  std::vector<std::uint32_t> free_;
  SessionTable sessions_;  // this shard's legs of the relay's sessions, and the routing rules
  std::vector<std::unique_ptr<SpscRing>> in_;  // in_[s]: ring from shard s to us (consumer side is ours)
  std::vector<Out> out_;                       // out_[t]: our producer state toward shard t
  std::vector<std::uint8_t> scratch_;          // one frame read out of a ring
  std::vector<std::uint64_t> dirty_;           // links written since the last flush
  runtime::TimerId flush_timer_;  // FlushDirty left links dirty: flush them next iteration
  static constexpr int kMaxFlushPasses = 4;
  bool flushing_ = false;
  bool doorbell_retry_ = false;
  bool draining_ = false;
  bool drain_closed_ = false;
  bool drained_reported_ = false;
  MetricsSnapshot m_;
  link::RefusalLog refusal_log_;  // refused logins' log lines, at most 10 a second
};

}  // namespace strait::relay
