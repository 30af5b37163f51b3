#include "tunnel/device/device_tun.h"

#include <chrono>

#include "runtime/netlink.h"
#include "tunnel/ip/ipv4.h"
#include "tunnel/ip/tunnel_mtu.h"
#include "tunnel/ip/vnet_segments.h"
#include "tunnel/session.h"

namespace strait::device {
namespace {


// The room a read needs: a vnet header and the largest packet the kernel hands over (a 64 KiB super-segment),
// behind the frame header and counter, with the tag's room after it.
constexpr std::size_t kReadRoom = runtime::kVnetHdrSize + ip::kIpv4MaxPacketSize;
constexpr std::size_t kReadBufferSize = tunnel::kSealedPlaintextOffset + ip::kIpv4MaxPacketSize + 16;
static_assert(tunnel::kSealedPlaintextOffset >= runtime::kVnetHdrSize);
static_assert(ip::kVnetHdrSize == runtime::kVnetHdrSize);
// What one read can become on the link: a 64 KiB super-segment cut into segments of at least 536 bytes of data
// (MTU 576), each in its own frame.
constexpr std::size_t kMaxReadFrames =
    ip::kIpv4MaxPacketSize + ip::kMaxGsoSegments * (ip::kIpv4MaxHeaderSize + ip::kTcpMaxHeaderSize +
                                                    tunnel::kHeaderSize + tunnel::kSealedOverhead);
// Paused, the loop's OnSendQueueLow resumes reading; this timer is the backstop if none comes.
constexpr std::chrono::milliseconds kResumeCheck{10};

}  // namespace

std::string_view TunDropName(TunDrop d) {
  switch (d) {
    case TunDrop::kNoTunnel: return "no_tunnel";
    case TunDrop::kLinkFull: return "link_full";
    case TunDrop::kMalformed: return "malformed";
    case TunDrop::kNotOurSource: return "not_our_source";
    case TunDrop::kTooBig: return "too_big";
    case TunDrop::kBadVnetHeader: return "bad_vnet_header";
    case TunDrop::kNotOurDestination: return "not_our_destination";
    case TunDrop::kTunWriteError: return "tun_write_error";
  }
  return "unknown";
}

DeviceTun::DeviceTun(runtime::EventLoop& loop, DeviceClient& client, const DeviceTunOptions& options)
    : loop_(loop), client_(client), options_(options), read_(kReadBufferSize), seg_(tunnel::kMaxLinkFrameSize) {}

Result<std::unique_ptr<DeviceTun>, std::string> DeviceTun::Open(runtime::EventLoop& loop, DeviceClient& client,
                                                               const DeviceTunOptions& options) {
  std::unique_ptr<DeviceTun> t(new DeviceTun(loop, client, options));
  auto tun = runtime::TunDevice::Open({.name = options.name, .vnet_hdr = true, .offloads = options.offloads});
  if (!tun) return Fail("tun: " + tun.error().reason);
  t->tun_ = std::move(*tun);
  t->watch_ = loop.WatchReadable(t->tun_.fd(), t.get());
  if (!t->watch_.valid()) return Fail(std::string("tun: no free readiness watch in the loop"));
  client.SetTunnelSink(t.get());
  return t;
}

DeviceTun::~DeviceTun() {
  client_.SetTunnelSink(nullptr);
  loop_.Unwatch(watch_);
  if (resume_timer_.valid()) loop_.CancelTimer(resume_timer_);
}

bool DeviceTun::live() const {
  return live_session_ != 0 && client_.session_up() && live_session_ == client_.stats().sessions_up;
}

Result<TunPlan, std::string> DeviceTun::Apply(const tunnel::TunnelConfig& config) {
  TunPlan plan = PlanTunChange(state_, config, options_.avoid);
  auto fail = [this](const std::string& why) {
    ++stats_.config_errors;
    live_session_ = 0;
    return Fail("tun " + tun_.name() + ": " + why);
  };
  if (!plan.changes_nothing()) {
    auto nl = runtime::RtNetlink::Open();
    if (!nl) return fail(nl.error().reason);
    const int ifindex = tun_.ifindex();
    if (plan.set_mtu != 0) {
      if (auto r = nl->SetMtu(ifindex, plan.set_mtu); !r) return fail(r.error().reason);
      state_.mtu = plan.set_mtu;
    }
    // The new address before the old one goes: the kernel drops an interface's routes with its last IPv4 address.
    if (plan.add_address != 0) {
      if (auto r = nl->AddAddress(ifindex, plan.add_address, 32); !r) return fail(r.error().reason);
      state_.address = plan.add_address;
    }
    if (plan.remove_address != 0) {
      if (auto r = nl->DeleteAddress(ifindex, plan.remove_address, 32); !r) return fail(r.error().reason);
      ++stats_.readdressed;
    }
    if (plan.set_up) {
      if (auto r = nl->SetLinkUp(ifindex); !r) return fail(r.error().reason);
    }
    for (const tunnel::Ipv4Prefix& p : plan.delete_routes) {
      // A route someone else deleted is gone already: that is what we wanted.
      if (auto r = nl->DeleteRoute(ifindex, p.prefix, p.length); !r && r.error().err != ESRCH) {
        return fail(r.error().reason);
      }
      std::erase(state_.routes, p);
    }
    for (const tunnel::Ipv4Prefix& p : plan.add_routes) {
      if (auto r = nl->AddRoute(ifindex, p.prefix, p.length); !r) return fail(r.error().reason);
      state_.routes.push_back(p);
    }
  }
  ++stats_.configs_applied;
  live_session_ = client_.stats().sessions_up;
  return plan;
}

void DeviceTun::OnReadable(runtime::EventLoop& /*loop*/, runtime::WatchId /*id*/) {
  const std::span<std::uint8_t> room =
      std::span(read_).subspan(tunnel::kSealedPlaintextOffset - runtime::kVnetHdrSize, kReadRoom);
  for (std::uint32_t i = 0; i < options_.read_batch; ++i) {
    // Backpressure instead of loss: while a session is up, read only what the link can take whole (a read may
    // be a 64 KiB super-segment). Unread packets wait in the TUN's queue, and the kernel slows the sender's TCP
    // (TCP Small Queues) instead of the tunnel dropping its segments.
    if (live() && !client_.HasDatagramRoom(kMaxReadFrames)) {
      client_.FlushLink();
      if (!client_.HasDatagramRoom(kMaxReadFrames)) {
        Pause();
        return;
      }
    }
    const long n = tun_.Read(room);
    if (n <= 0) break;  // EAGAIN (drained) or an error; the watch asks again when there is more
    Forward(static_cast<std::size_t>(n));
  }
  // One flush per batch: the batch's datagrams share the link's TLS records.
  client_.FlushLink();
}

void DeviceTun::Pause() {
  if (paused_) return;
  paused_ = true;
  ++stats_.pauses;
  loop_.Unwatch(watch_);
  watch_ = {};
  resume_timer_ = loop_.AddTimer(kResumeCheck, this);
}

void DeviceTun::Resume() {
  if (!paused_) return;
  if (live() && !client_.HasDatagramRoom(kMaxReadFrames)) {
    if (!resume_timer_.valid()) resume_timer_ = loop_.AddTimer(kResumeCheck, this);  // still full: look later
    return;
  }
  // A new watch: the old slot is released when its cancelled poll completes, so another slot may be taken; if none
  // is free yet, the timer tries again.
  watch_ = loop_.WatchReadable(tun_.fd(), this);
  if (!watch_.valid()) {
    if (!resume_timer_.valid()) resume_timer_ = loop_.AddTimer(kResumeCheck, this);
    return;
  }
  paused_ = false;
  if (resume_timer_.valid()) loop_.CancelTimer(resume_timer_);
  resume_timer_ = {};
}

void DeviceTun::OnLinkWritable() { Resume(); }

void DeviceTun::OnTimer(runtime::EventLoop& /*loop*/, runtime::TimerId /*id*/, std::uint64_t /*arg*/) {
  resume_timer_ = {};
  Resume();
}

void DeviceTun::Forward(std::size_t read_size) {
  if (!live()) {
    Drop(TunDrop::kNoTunnel);
    return;
  }
  const std::span<std::uint8_t> read =
      std::span(read_).subspan(tunnel::kSealedPlaintextOffset - runtime::kVnetHdrSize, read_size);
  const ip::VnetRead r = ip::ParseVnetRead(read, state_.mtu);
  if (!r.ok) {
    ++stats_.vnet_drops[static_cast<std::size_t>(r.drop)];
    Drop(r.drop == ip::VnetDrop::kBadIpv4 ? TunDrop::kMalformed : TunDrop::kBadVnetHeader);
    return;
  }
  switch (r.kind) {
    case ip::VnetKind::kNeedsChecksum:
      ip::CompleteChecksum(r);
      [[fallthrough]];
    case ip::VnetKind::kComplete:
      SendPacket(read_, r.packet.size());  // read where it is sealed: at the plaintext offset
      return;
    case ip::VnetKind::kGsoTcpv4:
      break;
  }
  // A TSO super-segment, cut into MSS-sized packets sent in order. Segment 0 is made in place (its data is already
  // there), but sealing it writes its tag over the start of segment 1's data: so segment 1 is copied out first.
  ++stats_.super_segments;
  const ip::GsoPlan& plan = r.gso;
  const std::span<std::uint8_t> seg_room = std::span(seg_).subspan(tunnel::kSealedPlaintextOffset);
  std::size_t seg1 = 0;
  if (plan.segments > 1) seg1 = ip::WriteGsoSegment(plan, 1, seg_room).size();
  SendPacket(read_, ip::WriteGsoSegment(plan, 0, r.packet).size());
  if (plan.segments > 1) SendPacket(seg_, seg1);
  for (std::size_t i = 2; i < plan.segments; ++i) SendPacket(seg_, ip::WriteGsoSegment(plan, i, seg_room).size());
}

void DeviceTun::SendPacket(std::span<std::uint8_t> frame, std::size_t size) {
  // ParseVnetRead judged the packet (or WriteGsoSegment made it); a segment that did not fit its room is empty.
  const std::uint8_t* p = frame.data() + tunnel::kSealedPlaintextOffset;
  if (size < ip::kIpv4MinHeaderSize) {
    Drop(TunDrop::kMalformed);
    return;
  }
  if (ip::LoadAddress({p, size}, ip::kIpv4SourceOffset) != state_.address) {
    Drop(TunDrop::kNotOurSource);
    return;
  }
  if (size > state_.mtu) {
    Drop(TunDrop::kTooBig);
    return;
  }
  switch (client_.SendDatagramFrame(frame, size)) {
    case DatagramSend::kSent:
      ++stats_.packets_out;
      stats_.bytes_out += size;
      return;
    case DatagramSend::kLinkFull:
      Drop(TunDrop::kLinkFull);
      return;
    case DatagramSend::kNoSession:
    case DatagramSend::kSessionEnded:
      Drop(TunDrop::kNoTunnel);
      return;
  }
}

void DeviceTun::OnTunnelPacket(std::span<std::uint8_t> packet) {
  // Authenticated, and judged by the connector already; the kernel checks the rest.
  if (packet.size() < ip::kIpv4MinHeaderSize || (packet[0] >> 4) != 4) {
    Drop(TunDrop::kMalformed);
    return;
  }
  if (state_.address == 0 || ip::LoadAddress(packet, ip::kIpv4DestinationOffset) != state_.address) {
    Drop(TunDrop::kNotOurDestination);
    return;
  }
  static constexpr std::array<std::uint8_t, runtime::kVnetHdrSize> kPlain{};  // no offload: a whole packet
  const long n = tun_.vnet_hdr() ? tun_.WriteWithHeader(kPlain, packet) : tun_.Write(packet);
  if (n < static_cast<long>(packet.size())) {
    Drop(TunDrop::kTunWriteError);
    return;
  }
  ++stats_.packets_in;
  stats_.bytes_in += packet.size();
}

}  // namespace strait::device
