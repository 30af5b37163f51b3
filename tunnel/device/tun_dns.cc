#include "tunnel/device/tun_dns.h"

namespace strait::device {

std::optional<TunDnsMode> ParseTunDnsMode(std::string_view text) {
  for (TunDnsMode m : {TunDnsMode::kAuto, TunDnsMode::kResolved, TunDnsMode::kStub, TunDnsMode::kOff}) {
    if (text == TunDnsModeName(m)) return m;
  }
  return std::nullopt;
}

std::string_view TunDnsModeName(TunDnsMode mode) {
  switch (mode) {
    case TunDnsMode::kAuto: return "auto";
    case TunDnsMode::kResolved: return "resolved";
    case TunDnsMode::kStub: return "stub";
    case TunDnsMode::kOff: return "off";
  }
  return "?";
}

Result<std::unique_ptr<TunDns>, std::string> TunDns::Start(runtime::EventLoop& loop, const TunDnsOptions& options) {
  TunDnsMode mode = options.mode;
  if (mode == TunDnsMode::kAuto) mode = SystemdResolvedRuns() ? TunDnsMode::kResolved : TunDnsMode::kStub;
  std::unique_ptr<TunDns> d(new TunDns(mode, options));
  if (mode != TunDnsMode::kStub) return d;  // resolved: set at the first config; off: nothing
  // A copy a crashed run left is put back before the upstreams are read from the file.
  auto contents = ResolvConf::RecoverAndRead(options.resolv_conf);
  if (!contents) return Fail("dns: " + contents.error());
  DnsStubOptions so;
  so.listen = options.stub_listen;
  so.upstreams = contents->nameservers;
  auto stub = DnsStub::Start(loop, std::move(so));
  if (!stub) return Fail("dns: " + stub.error());
  d->stub_ = std::move(*stub);
  auto taken = ResolvConf::TakeOver(options.resolv_conf, d->stub_->address());
  if (!taken) return Fail("dns: " + taken.error());
  d->resolv_conf_ = std::move(*taken);
  return d;
}

TunDns::~TunDns() {
  resolv_conf_.reset();  // restores the original before the stub it points at goes
  stub_.reset();
  resolved_.reset();     // reverts the link's settings
}

Result<void, std::string> TunDns::Apply(const tunnel::TunnelConfig& config) {
  switch (mode_) {
    case TunDnsMode::kStub:
      stub_->Update(config.dns_servers, config.dns_domains);
      return {};
    case TunDnsMode::kResolved: {
      if (resolved_) {
        if (auto r = resolved_->Update(config.dns_servers, config.dns_domains); !r) return Fail("dns: " + r.error());
        return {};
      }
      auto link = ResolvedLink::Apply(options_.ifname, config.dns_servers, config.dns_domains);
      if (!link) return Fail("dns: " + link.error());
      resolved_ = std::move(*link);
      return {};
    }
    case TunDnsMode::kAuto:
    case TunDnsMode::kOff:
      return {};
  }
  return {};
}

}  // namespace strait::device
