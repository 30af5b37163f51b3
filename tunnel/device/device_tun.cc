#include "tunnel/device/device_tun.h"

#include <cstdio>

#include "runtime/netlink.h"
#include "tunnel/ip/ipv4.h"
#include "tunnel/ip/tunnel_mtu.h"
#include "tunnel/session.h"

namespace strait::device {
namespace {

std::uint32_t Load32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

std::string PrefixText(const tunnel::Ipv4Prefix& p) {
  return std::to_string(p.prefix >> 24) + "." + std::to_string((p.prefix >> 16) & 0xFF) + "." +
         std::to_string((p.prefix >> 8) & 0xFF) + "." + std::to_string(p.prefix & 0xFF) + "/" +
         std::to_string(p.length);
}

// The room a read needs: a vnet header and the largest packet the kernel hands over (a 64 KiB super-segment),
// behind the frame header and counter, with the tag's room after it.
constexpr std::size_t kReadRoom = runtime::kVnetHdrSize + ip::kIpv4MaxPacketSize;
constexpr std::size_t kReadBufferSize = tunnel::kSealedPlaintextOffset + ip::kIpv4MaxPacketSize + 16;
static_assert(tunnel::kSealedPlaintextOffset >= runtime::kVnetHdrSize);

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
  // The tunnel carries IPv4 only: without this the kernel sends router solicitations and the like into it. Best
  // effort (a kernel without IPv6 has no such file).
  if (FILE* f = std::fopen(("/proc/sys/net/ipv6/conf/" + t->tun_.name() + "/disable_ipv6").c_str(), "w")) {
    std::fputs("1", f);
    std::fclose(f);
  }
  t->watch_ = loop.WatchReadable(t->tun_.fd(), t.get());
  if (!t->watch_.valid()) return Fail(std::string("tun: no free readiness watch in the loop"));
  client.SetTunnelSink(t.get());
  return t;
}

DeviceTun::~DeviceTun() {
  client_.SetTunnelSink(nullptr);
  loop_.Unwatch(watch_);
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
      // A route the kernel dropped already (the address went) is gone: that is what we wanted.
      if (auto r = nl->DeleteRoute(ifindex, p.prefix, p.length); !r && r.error().err != ESRCH) {
        return fail(r.error().reason);
      }
      std::erase(state_.routes, p);
    }
    for (const tunnel::Ipv4Prefix& p : plan.add_routes) {
      if (auto r = nl->AddRoute(ifindex, p.prefix, p.length); !r) {
        return fail(r.error().reason + " (route " + PrefixText(p) + ")");
      }
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
    const long n = tun_.Read(room);
    if (n <= 0) break;  // EAGAIN (drained) or an error; the watch asks again when there is more
    Forward(static_cast<std::size_t>(n));
  }
  // One flush per batch: the batch's datagrams share the link's TLS records.
  client_.FlushLink();
}

void DeviceTun::Forward(std::size_t read_size) {
  if (read_size < runtime::kVnetHdrSize) {
    Drop(TunDrop::kBadVnetHeader);
    return;
  }
  const std::uint8_t* vnet = read_.data() + tunnel::kSealedPlaintextOffset - runtime::kVnetHdrSize;
  const std::size_t size = read_size - runtime::kVnetHdrSize;
  if (!live()) {
    Drop(TunDrop::kNoTunnel);
    return;
  }
  if (vnet[runtime::kVnetHdrGsoTypeOffset] != runtime::kVnetHdrGsoNone || (vnet[0] & runtime::kVnetHdrFlagNeedsCsum)) {
    Drop(TunDrop::kBadVnetHeader);  // offloads are not asked for yet
    return;
  }
  SendPacket(read_, size);
}

void DeviceTun::SendPacket(std::span<std::uint8_t> frame, std::size_t size) {
  const std::uint8_t* p = frame.data() + tunnel::kSealedPlaintextOffset;
  if (size < ip::kIpv4MinHeaderSize || (p[0] >> 4) != 4) {
    Drop(TunDrop::kMalformed);
    return;
  }
  if (Load32(p + ip::kIpv4SourceOffset) != state_.address) {
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
  if (state_.address == 0 || Load32(packet.data() + ip::kIpv4DestinationOffset) != state_.address) {
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
