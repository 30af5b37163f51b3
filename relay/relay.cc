#include "relay/relay.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <unordered_map>

#include <fmt/format.h>

#include "relay/registry.h"
#include "relay/spsc_ring.h"
#include "tunnel/frame.h"
#include "tunnel/frame_reader.h"
#include "tunnel/frame_writer.h"
#include "tunnel/session.h"
#include "tunnel/link_messages.h"

namespace strait::relay {

using tunnel::ErrorCode;
using tunnel::FrameType;

namespace {

// A link anywhere in the relay: shard (8 bits) | slot (24 bits) | generation (32 bits).
constexpr std::uint64_t PackRef(std::uint32_t shard, std::uint32_t slot, std::uint32_t gen) {
  return (static_cast<std::uint64_t>(shard) << 56) | (static_cast<std::uint64_t>(slot & 0xffffffu) << 32) | gen;
}
constexpr std::uint32_t RefShard(std::uint64_t ref) { return static_cast<std::uint32_t>(ref >> 56); }
constexpr std::uint32_t RefSlot(std::uint64_t ref) { return static_cast<std::uint32_t>((ref >> 32) & 0xffffffu); }
constexpr std::uint32_t RefGen(std::uint64_t ref) { return static_cast<std::uint32_t>(ref); }
// Loop connection slots and timers beyond one per link: the listeners' accept retries and the shard's own timers
// (publish, flush, doorbell retry, drain close).
constexpr std::uint32_t kLoopReserve = 64;

// Session-table key on one shard: both legs of a session may live on the same shard, under the same channel.
constexpr std::uint64_t LegKey(std::uint32_t channel, bool connector) {
  return (static_cast<std::uint64_t>(channel) << 1) | (connector ? 1u : 0u);
}

enum MessageKind : std::uint32_t {
  kAdoptDevice = 1,     // fd: an accepted device-port connection
  kAdoptConnector = 2,  // fd: an accepted connector-port connection
  kDoorbell = 3,        // a: producer shard; its ring to us has records
  kSpace = 4,           // a: consumer shard; the ring to it has room again
  kDrain = 6,           // GOAWAY everyone, close after the drain period
};

enum RecordKind : std::uint8_t {
  kRecordFrame = 1,   // frame bytes for `target`; SESSION_CLOSE also removes target's leg
  kRecordAddLeg = 2,  // a new session `channel`: target = connector link, source = device link
};

enum TimerArg : std::uint64_t { kTimerPublish = 1, kTimerDoorbellRetry = 2, kTimerDrainClose = 3, kTimerFlush = 4 };

enum class Deliver : std::uint8_t { kSent, kDropped, kBlocked };

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
    default:
      return HandshakeResult::kOther;
  }
}

tunnel::FrameHeader HeaderOf(std::span<const std::uint8_t> bytes) {
  tunnel::FrameHeader h;
  (void)tunnel::ParseFrameHeader(bytes, &h);
  return h;
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

// One shard: a loop thread's links, its half of every session table entry, its rings' consumer ends.
class Shard final : public runtime::MessageHandler,
                    public runtime::AcceptHandler,
                    private runtime::BatchHandler,
                    private runtime::TimerHandler {
 public:
  Shard(Relay& relay, std::uint32_t index, std::size_t shard_count) : relay_(&relay), index_(index) {
    in_.resize(shard_count);
    out_.resize(shard_count);
    ring_blocked_.assign(shard_count, false);
    if (shard_count > 1) {
      for (std::size_t s = 0; s < shard_count; ++s) {
        if (s != index) in_[s] = std::make_unique<SpscRing>(relay.options_.cross_shard_queue_bytes);
      }
    }
  }

  // [shard thread] Before Run().
  void Init(runtime::LoopGroup& group, runtime::EventLoop& loop) {
    group_ = &group;
    loop_ = &loop;
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
    std::unique_ptr<link::TlsLink> tls;
    std::string tenant;
    std::string subject;
    std::string preferred;  // HELLO preferred_connector (devices)
    std::vector<std::uint32_t> channels;
    std::uint32_t pause_count = 0;
    std::uint32_t violations = 0;
    std::vector<std::uint64_t> paused_peers;  // local links paused because this link's send side is full
    std::vector<std::uint8_t> held;           // stream frames refused by SendEncoded, sent first on low
    std::vector<std::uint32_t> blocked_rings;  // source shards whose ring waits for this link

    void OnLinkUp(link::TlsLink& l, const link::LinkIdentity& id) override { shard->OnUp(*this, l, id); }
    void OnFrame(link::TlsLink& /*l*/, const link::Frame& f) override { shard->OnFrame(*this, f); }
    void OnLinkDown(link::TlsLink& /*l*/, const link::LinkDown& d) override { shard->OnDown(*this, d); }
    void OnSendQueueHigh(link::TlsLink& /*l*/) override { shard->OnHigh(*this); }
    void OnSendQueueLow(link::TlsLink& /*l*/) override { shard->OnLow(*this); }
  };

  struct Leg {
    std::uint32_t slot;
    std::uint32_t gen;
    std::uint64_t peer;
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
  void Log(const std::string& line) {
    if (relay_->options_.log) {
      relay_->options_.log(line);
    } else {
      fmt::print(stderr, "relay: {}\n", line);
    }
  }

  // ---- accept and hand-off ----------------------------------------------------------------------------------

  void OnAccept(runtime::EventLoop& /*loop*/, runtime::ListenerId id, int fd) override {
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

  void Adopt(int fd, bool connector) {
    if (draining_) {
      ::close(fd);
      Drop(DropReason::kDraining);
      return;
    }
    if (m_.handshakes_in_flight >= relay_->options_.max_handshakes_per_shard) {
      ::close(fd);
      Drop(DropReason::kHandshakeLimit);
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
    l.up = false;
    l.connector = connector;
    l.gen = ++gen_counter_;
    l.tls = std::make_unique<link::TlsLink>(*loop_, link_state_,
                                            connector ? relay_->connector_config_ : relay_->device_config_, l);
    if (!l.tls->Accept(fd)) {
      ::close(fd);
      Drop(DropReason::kLinkLimit);
      Free(l);
      return;
    }
    ++m_.handshakes_in_flight;
  }

  void Free(Link& l) {
    l.tls.reset();
    l.in_use = false;
    l.up = false;
    l.dirty = false;
    l.tenant.clear();
    l.subject.clear();
    l.preferred.clear();
    l.channels.clear();
    l.pause_count = 0;
    l.violations = 0;
    l.paused_peers.clear();
    std::vector<std::uint8_t>().swap(l.held);
    l.blocked_rings.clear();
    ++l.gen;
    free_.push_back(l.slot);
  }

  // ---- link lifecycle ---------------------------------------------------------------------------------------

  void OnUp(Link& l, link::TlsLink& tls, const link::LinkIdentity& id) {
    --m_.handshakes_in_flight;
    ++m_.handshakes[static_cast<std::size_t>(HandshakeResult::kOk)];
    l.up = true;
    const crypto::VerifiedCredential& cred = id.peer->credential;
    l.tenant = cred.tenant_id;
    l.subject = cred.subject_id;
    l.preferred = id.peer->preferred_connector;
    if (l.connector) {
      ++m_.connector_links;
      relay_->registry_->Add(l.tenant, l.subject, Ref(l), id.peer->credential_bytes);
    } else {
      ++m_.device_links;
    }
    Log(fmt::format("link up role={} tenant={} subject={} shard={}", l.connector ? "connector" : "device", l.tenant,
                    l.subject, index_));
    if (draining_) SendGoAway(l);
    (void)tls;
  }

  void OnDown(Link& l, const link::LinkDown& d) {
    if (!l.up) {
      --m_.handshakes_in_flight;
      ++m_.handshakes[static_cast<std::size_t>(ResultOf(d))];
      Free(l);
      MaybeDrained();
      return;
    }
    Log(fmt::format("link down role={} tenant={} subject={} reason={} code={} sessions={}",
                    l.connector ? "connector" : "device", l.tenant, l.subject, link::DownReasonName(d.reason),
                    d.code, l.channels.size()));
    if (l.connector) {
      --m_.connector_links;
      relay_->registry_->Remove(Ref(l));
    } else {
      --m_.device_links;
    }
    const ErrorCode code = l.connector ? ErrorCode::kConnectorGone : ErrorCode::kDeviceGone;
    const std::string_view reason = l.connector ? "connector link down" : "device link down";
    for (const std::uint32_t ch : l.channels) {
      auto it = legs_.find(LegKey(ch, l.connector));
      if (it == legs_.end()) continue;
      const std::uint64_t peer = it->second.peer;
      legs_.erase(it);
      if (!l.connector) {
        --m_.sessions;
        ++m_.sessions_closed;
      }
      RouteControl(peer, SessionCloseFrame(ch, code, reason));
    }
    l.channels.clear();
    for (const std::uint64_t p : l.paused_peers) ResumeRef(p);
    l.paused_peers.clear();
    std::vector<std::uint32_t> blocked;
    blocked.swap(l.blocked_rings);
    Free(l);
    for (const std::uint32_t s : blocked) {
      ring_blocked_[s] = false;
      DrainRing(s);
    }
    MaybeDrained();
  }

  void Pause(Link& l) {
    if (l.pause_count++ == 0) {
      l.tls->PauseRecv();
      ++m_.paused_links;
    }
  }
  void Resume(Link& l) {
    if (l.pause_count > 0 && --l.pause_count == 0) {
      l.tls->ResumeRecv();
      --m_.paused_links;
    }
  }
  void ResumeRef(std::uint64_t ref) {
    if (Link* l = Resolve(ref)) Resume(*l);
  }

  void OnHigh(Link& dst) {
    // Pause the local links that feed `dst`; remote feeders stop when their ring is not drained (Deliver).
    for (const std::uint32_t ch : dst.channels) {
      auto it = legs_.find(LegKey(ch, dst.connector));
      if (it == legs_.end()) continue;
      if (Link* src = Resolve(it->second.peer)) {
        Pause(*src);
        dst.paused_peers.push_back(Ref(*src));
      }
    }
  }

  void OnLow(Link& dst) {
    if (!SendHeld(dst)) return;
    std::vector<std::uint64_t> peers;
    peers.swap(dst.paused_peers);
    for (const std::uint64_t p : peers) ResumeRef(p);
    std::vector<std::uint32_t> blocked;
    blocked.swap(dst.blocked_rings);
    for (const std::uint32_t s : blocked) {
      ring_blocked_[s] = false;
      DrainRing(s);
    }
  }

  // Sends the frames `dst` held back; true once none is left.
  bool SendHeld(Link& dst) {
    std::size_t off = 0;
    while (off < dst.held.size()) {
      auto h = HeaderOf(std::span(dst.held).subspan(off));
      const std::size_t n = tunnel::kHeaderSize + h.length;
      const link::SendStatus st = dst.tls->SendEncoded(std::span(dst.held).subspan(off, n));
      if (st == link::SendStatus::kBackpressure) break;
      if (st == link::SendStatus::kOk) {
        m_.bytes_out += n;
        ++m_.frames_forwarded;
      }
      off += n;
    }
    dst.held.erase(dst.held.begin(), dst.held.begin() + static_cast<std::ptrdiff_t>(off));
    MarkDirty(dst);
    if (!dst.held.empty()) return false;
    std::vector<std::uint8_t>().swap(dst.held);
    return true;
  }

  // ---- frames -----------------------------------------------------------------------------------------------

  void Violation(Link& l, DropReason r) {
    Drop(r);
    if (++l.violations >= relay_->options_.max_violations && l.tls) {
      l.tls->Close(ErrorCode::kProtocolError, "too many frames the relay cannot route");
    }
  }

  void OnFrame(Link& l, const link::Frame& f) {
    m_.bytes_in += f.bytes.size();
    const FrameType t = f.header.type;
    switch (t) {
      case FrameType::kSessionRequest:
        if (l.connector || f.header.channel != 0) return Violation(l, DropReason::kBadFrameForRole);
        return HandleSessionRequest(l, f);
      case FrameType::kSessionInit:
        if (l.connector) return Violation(l, DropReason::kBadFrameForRole);
        break;
      case FrameType::kSessionAccept:
        if (!l.connector) return Violation(l, DropReason::kBadFrameForRole);
        break;
      case FrameType::kSessionClose:
        if (!tunnel::SessionClose::Decode(f.payload)) return Violation(l, DropReason::kMalformed);
        break;
      case FrameType::kSealedStream:
      case FrameType::kSealedDatagram:
      case FrameType::kError:
        break;
      default:
        return Violation(l, tunnel::IsKnownFrameType(t) ? DropReason::kBadFrameForRole
                                                                                  : DropReason::kUnknownType);
    }
    const std::uint32_t ch = f.header.channel;
    auto it = ch == 0 ? legs_.end() : legs_.find(LegKey(ch, l.connector));
    if (it == legs_.end() || it->second.slot != l.slot || it->second.gen != l.gen) {
      return Violation(l, DropReason::kUnknownChannel);
    }
    const std::uint64_t peer = it->second.peer;
    const bool datagram = t == FrameType::kSealedDatagram;
    if (RefShard(peer) == index_) {
      Link* dst = Resolve(peer);
      if (dst == nullptr) {
        Drop(DropReason::kPeerGone);
      } else {
        const Deliver r = DeliverTo(*dst, f.bytes, datagram);
        if (r == Deliver::kBlocked) {
          dst->held.insert(dst->held.end(), f.bytes.begin(), f.bytes.end());
          Pause(l);
          dst->paused_peers.push_back(Ref(l));
          MarkDirty(*dst);
        }
        if (t == FrameType::kSessionClose) RemoveLeg(*dst, ch);
      }
    } else {
      RingRecord rec;
      rec.kind = kRecordFrame;
      rec.channel = ch;
      rec.target = peer;
      rec.source = Ref(l);
      rec.length = static_cast<std::uint32_t>(f.bytes.size());
      CrossSend(RefShard(peer), rec, f.bytes, datagram, &l);
    }
    if (t == FrameType::kSessionClose) RemoveLeg(l, ch);
  }

  Deliver DeliverTo(Link& dst, std::span<const std::uint8_t> bytes, bool datagram) {
    if (!dst.up || !dst.tls) {
      Drop(DropReason::kPeerGone);
      return Deliver::kDropped;
    }
    if (!dst.held.empty()) {
      if (datagram) {
        Drop(DropReason::kDatagramQueueFull);
        return Deliver::kDropped;
      }
      return Deliver::kBlocked;
    }
    switch (dst.tls->SendEncoded(bytes)) {
      case link::SendStatus::kOk:
        m_.bytes_out += bytes.size();
        ++m_.frames_forwarded;
        MarkDirty(dst);
        return Deliver::kSent;
      case link::SendStatus::kBackpressure:
        if (datagram) {
          Drop(DropReason::kDatagramQueueFull);
          return Deliver::kDropped;
        }
        return Deliver::kBlocked;
      default:
        Drop(DropReason::kPeerGone);
        return Deliver::kDropped;
    }
  }

  void MarkDirty(Link& l) {
    if (l.dirty) return;
    l.dirty = true;
    dirty_.push_back(Ref(l));  // sealed by FlushDirty at the end of this loop iteration (OnBatchEnd)
  }
  void OnBatchEnd(runtime::EventLoop& /*loop*/) override { FlushDirty(); }
  // Seals what this iteration's frames appended to each written link: one TLS flush per link per iteration, however
  // many frames it got. Flushing can dirty links again (OnLow -> DrainRing); those are flushed in further passes.
  void FlushDirty() {
    if (flushing_) return;  // nested (OnLow -> DrainRing -> FlushDirty): the outer call's next pass takes it
    flushing_ = true;
    std::vector<std::uint64_t> dirty;
    for (int pass = 0; pass < kMaxFlushPasses && !dirty_.empty(); ++pass) {
      dirty.swap(dirty_);
      for (const std::uint64_t ref : dirty) {
        if (Link* l = Resolve(ref)) {
          l->dirty = false;
          if (l->tls) l->tls->Flush();
          // Frames held back by a kBackpressure refusal wait for OnSendQueueLow; if the link never crossed the
          // loop's high watermark (its backlog was all pending plaintext), no Low comes: retry here.
          if (l->tls && (!l->held.empty() || !l->blocked_rings.empty()) && !l->tls->send_high()) OnLow(*l);
        }
      }
      dirty.clear();
      if (dirty_.empty()) dirty_.swap(dirty);  // keep the capacity
    }
    flushing_ = false;
    // Still dirty after the passes: a zero timer ends the next wait at once, so the next iteration flushes them.
    if (!dirty_.empty() && !flush_timer_.valid()) {
      flush_timer_ = loop_->AddTimer(std::chrono::nanoseconds(0), this, kTimerFlush);
    }
  }

  // A relay-made frame (SESSION_CLOSE for a gone peer) to `target`, anywhere. Never dropped for lack of room.
  void RouteControl(std::uint64_t target, const std::vector<std::uint8_t>& frame) {
    auto h = HeaderOf(frame);
    const std::uint32_t ch = h.channel;
    if (RefShard(target) == index_) {
      Link* dst = Resolve(target);
      if (dst == nullptr) return;
      if (DeliverTo(*dst, frame, false) == Deliver::kBlocked) {
        dst->held.insert(dst->held.end(), frame.begin(), frame.end());
      }
      if (h.type == FrameType::kSessionClose) RemoveLeg(*dst, ch);
      return;
    }
    RingRecord rec;
    rec.kind = kRecordFrame;
    rec.channel = ch;
    rec.target = target;
    rec.length = static_cast<std::uint32_t>(frame.size());
    CrossSend(RefShard(target), rec, frame, false, nullptr);
  }

  void RemoveLeg(Link& l, std::uint32_t ch) {
    auto it = legs_.find(LegKey(ch, l.connector));
    if (it == legs_.end() || it->second.slot != l.slot || it->second.gen != l.gen) return;
    legs_.erase(it);
    std::erase(l.channels, ch);
    if (l.connector) {
      relay_->registry_->Release(Ref(l));
    } else {
      --m_.sessions;
      ++m_.sessions_closed;
      Log(fmt::format("session down id={} device={}", ch, l.subject));
    }
  }

  // ---- sessions ---------------------------------------------------------------------------------------------

  void SendRefusal(Link& l, ErrorCode code, std::string_view reason) {
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

  void HandleSessionRequest(Link& dev, const link::Frame& f) {
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
    auto choice = relay_->registry_->Pick(dev.tenant, preferred);
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
    } while (legs_.contains(LegKey(id, false)));
    legs_[LegKey(id, false)] = Leg{dev.slot, dev.gen, choice->link};
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
    Log(fmt::format("session up id={} tenant={} device={} connector={}", id, dev.tenant, dev.subject,
                    choice->subject));
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

  void AddConnectorLeg(std::uint64_t connector, std::uint32_t id, std::uint64_t device) {
    Link* c = Resolve(connector);
    if (c == nullptr || !c->up) {
      relay_->registry_->Release(connector);
      RouteControl(device, SessionCloseFrame(id, ErrorCode::kConnectorGone, "connector link down"));
      return;
    }
    legs_[LegKey(id, true)] = Leg{c->slot, c->gen, device};
    c->channels.push_back(id);
  }

  // ---- cross-shard rings ------------------------------------------------------------------------------------

  SpscRing& RingTo(std::uint32_t shard) { return *relay_->shards_[shard]->in_[index_]; }

  void CrossSend(std::uint32_t shard, const RingRecord& rec, std::span<const std::uint8_t> bytes, bool datagram,
                 Link* src) {
    SpscRing& ring = RingTo(shard);
    Out& out = out_[shard];
    if (out.stash.empty() && ring.Write(rec, bytes)) {
      ++m_.frames_cross_shard;
      Doorbell(shard);
      return;
    }
    if (datagram) {
      Drop(DropReason::kDatagramQueueFull);
      return;
    }
    const auto* hb = reinterpret_cast<const std::uint8_t*>(&rec);
    out.stash.insert(out.stash.end(), hb, hb + sizeof rec);
    out.stash.insert(out.stash.end(), bytes.begin(), bytes.end());
    if (src != nullptr) {
      Pause(*src);
      out.paused.push_back(Ref(*src));
    }
    ring.want_space.store(true, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    FlushStash(shard);
  }

  void FlushStash(std::uint32_t shard) {
    SpscRing& ring = RingTo(shard);
    Out& out = out_[shard];
    std::size_t off = 0;
    while (off < out.stash.size()) {
      RingRecord rec;
      std::memcpy(&rec, out.stash.data() + off, sizeof rec);
      if (!ring.Write(rec, std::span(out.stash).subspan(off + sizeof rec, rec.length))) break;
      ++m_.frames_cross_shard;
      off += sizeof rec + rec.length;
    }
    if (off > 0) {
      out.stash.erase(out.stash.begin(), out.stash.begin() + static_cast<std::ptrdiff_t>(off));
      Doorbell(shard);
    }
    if (!out.stash.empty()) {
      ring.want_space.store(true, std::memory_order_seq_cst);
      return;
    }
    std::vector<std::uint8_t>().swap(out.stash);
    std::vector<std::uint64_t> paused;
    paused.swap(out.paused);
    for (const std::uint64_t p : paused) ResumeRef(p);
  }

  void Doorbell(std::uint32_t shard) {
    SpscRing& ring = RingTo(shard);
    if (ring.doorbell.exchange(true, std::memory_order_acq_rel)) return;
    if (!loop_->PostTo(group_->loop(shard), {kDoorbell, -1, index_, 0})) {
      ring.doorbell.store(false, std::memory_order_release);
      if (!doorbell_retry_) {
        doorbell_retry_ = loop_->AddTimer(std::chrono::milliseconds(1), this, kTimerDoorbellRetry).valid();
      }
    }
  }

  void DrainRing(std::uint32_t src) {
    SpscRing& ring = *in_[src];
    ring.doorbell.store(false, std::memory_order_release);
    if (ring_blocked_[src]) return;
    std::uint32_t n = 0;
    RingRecord rec;
    bool more = false;
    while (ring.Peek(rec, scratch_)) {
      if (n++ >= relay_->options_.cross_shard_batch) {
        more = true;
        break;
      }
      if (rec.kind == kRecordAddLeg) {
        ring.Commit();
        AddConnectorLeg(rec.target, rec.channel, rec.source);
        continue;
      }
      const std::span<const std::uint8_t> bytes(scratch_.data(), rec.length);
      auto h = HeaderOf(bytes);
      Link* dst = Resolve(rec.target);
      if (dst == nullptr) {
        ring.Commit();
        if (h.type != FrameType::kSessionClose) Drop(DropReason::kPeerGone);
        continue;
      }
      if (DeliverTo(*dst, bytes, h.type == FrameType::kSealedDatagram) == Deliver::kBlocked) {
        ring_blocked_[src] = true;
        dst->blocked_rings.push_back(src);
        MarkDirty(*dst);
        break;
      }
      ring.Commit();
      if (h.type == FrameType::kSessionClose) RemoveLeg(*dst, rec.channel);
    }
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (ring.want_space.exchange(false, std::memory_order_seq_cst)) {
      if (!loop_->PostTo(group_->loop(src), {kSpace, -1, index_, 0})) ring.want_space.store(true);
    }
    if (more && !ring.doorbell.exchange(true)) {
      if (!loop_->Post({kDoorbell, -1, src, 0})) ring.doorbell.store(false);
    }
  }

  // ---- messages, timers, drain ------------------------------------------------------------------------------

  void OnMessage(runtime::EventLoop& /*loop*/, const runtime::Message& msg) override {
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
      default:
        if (msg.fd >= 0) ::close(msg.fd);
        return;
    }
  }

  void SendGoAway(Link& l) {
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

 public:
  void StartDrain() {
    if (draining_) return;
    draining_ = true;
    if (index_ == 0) {
      if (device_listener_.valid()) loop_->CloseListener(device_listener_);
      if (connector_listener_.valid()) loop_->CloseListener(connector_listener_);
    }
    for (auto& lp : links_) {
      if (lp->in_use && lp->up) SendGoAway(*lp);
    }
    Log(fmt::format("draining shard={} links={} for {} ms", index_, m_.device_links + m_.connector_links,
                    relay_->options_.drain_period.count()));
    if (!loop_->AddTimer(relay_->options_.drain_period, this, kTimerDrainClose).valid()) CloseAll();
    MaybeDrained();
  }
  void Publish() { relay_->Publish(index_, Snapshot()); }

 private:
  void CloseAll() {
    drain_closed_ = true;
    for (auto& lp : links_) {
      if (lp->in_use && lp->tls) lp->tls->Close(ErrorCode::kShuttingDown, "relay shutting down");
    }
    MaybeDrained();
  }
  void MaybeDrained() {
    if (!draining_ || drained_reported_) return;
    for (auto& lp : links_) {
      if (lp->in_use) return;
    }
    if (!drain_closed_ && m_.device_links + m_.connector_links + m_.handshakes_in_flight > 0) return;
    drained_reported_ = true;
    relay_->drained_shards_.fetch_add(1);
  }

  MetricsSnapshot Snapshot() {
    MetricsSnapshot s = m_;
    s.cross_queue_bytes = 0;
    for (std::size_t t = 0; t < out_.size(); ++t) {
      if (t == index_ || !relay_->shards_[t]) continue;
      if (relay_->shards_[t]->in_[index_]) s.cross_queue_bytes += RingTo(static_cast<std::uint32_t>(t)).used();
      s.cross_queue_bytes += out_[t].stash.size();
    }
    return s;
  }

  void OnTimer(runtime::EventLoop& loop, runtime::TimerId /*id*/, std::uint64_t arg) override {
    switch (arg) {
      case kTimerPublish:
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

  Relay* const relay_;
  const std::uint32_t index_;
  runtime::LoopGroup* group_ = nullptr;
  runtime::EventLoop* loop_ = nullptr;
  link::LinkLoopState link_state_;
  runtime::ListenerId device_listener_;
  runtime::ListenerId connector_listener_;
  std::size_t next_shard_ = 0;
  std::uint32_t gen_counter_ = 0;
  std::uint32_t session_counter_ = 0;
  std::vector<std::unique_ptr<Link>> links_;
  std::vector<std::uint32_t> free_;
  std::unordered_map<std::uint64_t, Leg> legs_;
  std::vector<std::unique_ptr<SpscRing>> in_;  // in_[s]: ring from shard s to us (consumer side is ours)
  std::vector<Out> out_;                       // out_[t]: our producer state toward shard t
  std::vector<bool> ring_blocked_;             // in_[s] waits for a link's send side
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
};

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
  auto make_config = [&](crypto::Role role) {
    link::LinkConfig c;
    c.tls = identity.tls;
    c.options = options.link;
    c.server.root_key = identity.root_key;
    c.server.roles = crypto::RoleSet{role};
    c.server.now_unix = identity.now_unix;
    c.server.relay_id = identity.relay_id;
    return c;
  };
  r->device_config_ = make_config(crypto::Role::kDevice);
  r->connector_config_ = make_config(crypto::Role::kConnector);

  auto dfd = runtime::ListenTcp(options.device_listen, {});
  if (!dfd.ok()) return runtime::SetupError{dfd.error().err, "device port: " + dfd.error().reason};
  r->device_fd_ = *dfd;
  auto cfd = runtime::ListenTcp(options.connector_listen, {});
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
  return total;
}

}  // namespace strait::relay
