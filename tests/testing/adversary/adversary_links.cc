// The link modes of strait-adversary (adversary.h): login probe, PING flood, replayed SESSION_INIT. Each runs one
// io_uring loop with strait_link's TlsLink as a client, checking the server's credential as a device does.
#include <algorithm>
#include <array>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "tests/testing/adversary/adversary.h"
#include "crypto/credential.h"
#include "crypto/keystore.h"
#include "crypto/tls_context.h"
#include "runtime/event_loop.h"
#include "runtime/net.h"
#include "tunnel/e2e_handshake.h"
#include "tunnel/link/tls_link.h"
#include "tunnel/link_messages.h"

namespace strait::adversary {
namespace {

using Clock = std::chrono::steady_clock;

// Identity, TLS context and link configuration shared by every link of a mode. Not movable: config.tls points
// into it.
struct Setup {
  Setup() = default;
  Setup(const Setup&) = delete;
  Setup& operator=(const Setup&) = delete;

  crypto::IdentityBundle bundle;
  std::optional<crypto::TlsContext> tls;
  link::LinkConfig config;
  runtime::SocketAddress target;
  std::unique_ptr<runtime::EventLoop> loop;
};

bool Prepare(const LinkToolOptions& o, std::uint32_t links, Setup& s) {
  auto bundle = crypto::LoadIdentityBundle(o.identity);
  if (!bundle) {
    std::fprintf(stderr, "strait-adversary: %s\n", bundle.error().reason.c_str());
    return false;
  }
  s.bundle = std::move(bundle).value();
  auto addr = runtime::ParseSocketAddress(o.target);
  if (!addr) {
    std::fprintf(stderr, "strait-adversary: --target: %s\n", addr.error().reason.c_str());
    return false;
  }
  s.target = *addr;
  auto own = crypto::ParseCredential(s.bundle.credential);
  if (!own) {
    std::fprintf(stderr, "strait-adversary: %s: credential does not parse\n", o.identity.c_str());
    return false;
  }
  auto tls = o.direct ? crypto::TlsContext::CreateTransportOnlyClient(o.server_name)
                      : crypto::TlsContext::CreateClient({s.bundle.ca_pem, o.server_name});
  if (!tls) {
    std::fprintf(stderr, "strait-adversary: TLS: %s\n", tls.error().reason.c_str());
    return false;
  }
  s.tls.emplace(std::move(tls).value());
  s.config.tls = &*s.tls;
  s.config.client.credential = s.bundle.credential;
  s.config.client.key = s.bundle.signing_key;
  s.config.client.role =
      s.bundle.role == crypto::Role::kConnector ? tunnel::LinkRole::kConnector : tunnel::LinkRole::kDevice;
  s.config.client.server_root = s.bundle.root_public_key;
  if (o.direct) {
    s.config.client.server_roles = crypto::RoleSet{crypto::Role::kConnector};
    s.config.client.server_tenant = std::string(own->tenant_id);
  }
  runtime::LoopOptions lo;
  lo.max_connections = links + 16;
  lo.max_timers = 4 * links + 64;
  lo.recv_buffer_count = 256;
  lo.plain_buffer_count = 512;
  auto loop = runtime::EventLoop::Create(lo);
  if (!loop) {
    std::fprintf(stderr, "strait-adversary: event loop: %s\n", loop.error().reason.c_str());
    return false;
  }
  s.loop = std::move(loop).value();
  return true;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// Links are destroyed from a timer, never inside their own callbacks.
class LinkOwner : public link::LinkHandler, public runtime::TimerHandler {
 protected:
  static constexpr std::uint64_t kReap = 100;
  static constexpr std::uint64_t kEnd = 101;

  LinkOwner(Setup& s, std::chrono::milliseconds duration) : s_(s) {
    s_.loop->AddTimer(duration, this, kEnd);
    s_.loop->AddTimer(std::chrono::milliseconds(200), this, kReap);
  }

  link::TlsLink* Dial() {
    auto l = std::make_unique<link::TlsLink>(*s_.loop, shared_, s_.config, *this);
    if (!l->Connect(s_.target)) return nullptr;
    links_.push_back(std::move(l));
    return links_.back().get();
  }
  void Park(link::TlsLink& link) {
    for (auto& l : links_) {
      if (l.get() == &link) {
        dead_.push_back(std::move(l));
        l = std::move(links_.back());
        links_.pop_back();
        return;
      }
    }
  }
  // Mode-specific: the end of --duration, and a 1 ms tick for modes that ask for it.
  virtual void OnEnd() { s_.loop->RequestStop(); }
  virtual void OnTick() {}

  void OnTimer(runtime::EventLoop& loop, runtime::TimerId /*id*/, std::uint64_t arg) override {
    if (arg == kEnd) {
      OnEnd();
    } else if (arg == kReap) {
      dead_.clear();
      if (!loop.stopping()) loop.AddTimer(std::chrono::milliseconds(200), this, kReap);
    } else {
      OnTick();
    }
  }

  Setup& s_;
  link::LinkLoopState shared_;
  std::vector<std::unique_ptr<link::TlsLink>> links_;
  std::vector<std::unique_ptr<link::TlsLink>> dead_;
};

// ---- probe: legitimate logins, `parallel` at a time ----
class Prober final : public LinkOwner {
 public:
  Prober(Setup& s, const LinkToolOptions& o) : LinkOwner(s, o.duration), o_(o) {}
  void Start() {
    for (std::uint32_t i = 0; i < o_.parallel; ++i) DialNext();
  }
  int Report() const {
    fmt::print("probe ok={} failed={} unfinished={} p50_ms={:.1f} p90_ms={:.1f} p99_ms={:.1f} max_ms={:.1f} "
               "errors={}\n",
               ok_, failed_, started_ - finished_, Percentile(lat_ms_, 0.5), Percentile(lat_ms_, 0.9),
               Percentile(lat_ms_, 0.99), Percentile(lat_ms_, 1.0), Errors());
    std::fflush(stdout);
    return 0;
  }

 private:
  void DialNext() {
    while (started_ < o_.count && !s_.loop->stopping()) {
      ++started_;
      link::TlsLink* l = Dial();
      if (l != nullptr) {
        start_[l] = Clock::now();
        return;
      }
      ++failed_;
      ++finished_;
      ++errors_["dial"];
    }
    if (finished_ == o_.count) s_.loop->RequestStop();
  }
  void OnLinkUp(link::TlsLink& link, const link::LinkIdentity& /*id*/) override {
    lat_ms_.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start_[&link]).count());
    ++ok_;
    link.Close(tunnel::ErrorCode::kShuttingDown, "probe done");
  }
  void OnFrame(link::TlsLink& /*link*/, const link::Frame& /*frame*/) override {}
  void OnLinkDown(link::TlsLink& link, const link::LinkDown& down) override {
    start_.erase(&link);
    Park(link);
    ++finished_;
    if (!down.was_up) {
      ++failed_;
      ++errors_[std::string(link::DownReasonName(down.reason))];
    }
    DialNext();
  }
  std::string Errors() const {
    std::string out;
    for (const auto& [k, v] : errors_) out += fmt::format("{}{}:{}", out.empty() ? "" : ",", k, v);
    return out.empty() ? "none" : out;
  }

  const LinkToolOptions& o_;
  std::map<link::TlsLink*, Clock::time_point> start_;
  std::vector<double> lat_ms_;
  std::map<std::string, std::uint64_t> errors_;
  std::uint32_t started_ = 0, finished_ = 0, ok_ = 0, failed_ = 0;
};

// ---- ping-flood: one link that never reads and sends PINGs as fast as the link takes them ----
class PingFlooder final : public LinkOwner {
 public:
  PingFlooder(Setup& s, const LinkToolOptions& o) : LinkOwner(s, o.duration) {}
  void Start() {
    if (Dial() == nullptr) down_ = "dial failed";
  }
  int Report() const {
    fmt::print("ping-flood up={} sent={} refused={} link={}\n", up_ ? 1 : 0, sent_, refused_,
               down_.empty() ? "up" : down_);
    std::fflush(stdout);
    return up_ ? 0 : 1;
  }

 private:
  void OnLinkUp(link::TlsLink& link, const link::LinkIdentity& /*id*/) override {
    up_ = true;
    link_ = &link;
    link.PauseRecv();  // never read again: every PONG the relay makes has nowhere to go
    fmt::print("ping-flood ready\n");
    std::fflush(stdout);
    s_.loop->AddTimer(std::chrono::milliseconds(1), this, 0);
  }
  void OnTick() override {
    if (link_ == nullptr) return;
    std::array<std::uint8_t, 8> payload{};
    for (int i = 0; i < 256; ++i) {
      ++opaque_;
      for (int b = 0; b < 8; ++b) payload[static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(opaque_ >> (8 * b));
      if (link_->SendFrame(tunnel::FrameType::kPing, 0, 0, payload) != link::SendStatus::kOk) {
        ++refused_;
        break;
      }
      ++sent_;
    }
    link_->Flush();
    s_.loop->AddTimer(std::chrono::milliseconds(1), this, 0);
  }
  void OnFrame(link::TlsLink& /*link*/, const link::Frame& /*frame*/) override {}
  void OnLinkDown(link::TlsLink& link, const link::LinkDown& down) override {
    link_ = nullptr;
    down_ = fmt::format("down:{}:code{}", link::DownReasonName(down.reason), down.code);
    Park(link);
  }

  link::TlsLink* link_ = nullptr;
  bool up_ = false;
  std::uint64_t sent_ = 0, refused_ = 0, opaque_ = 0;
  std::string down_;
};

// ---- replay: a real SESSION_INIT, then the same bytes on a second link's new session ----
class Replayer final : public LinkOwner {
 public:
  Replayer(Setup& s, const LinkToolOptions& o) : LinkOwner(s, o.duration) {
    auto own = crypto::ParseCredential(s.bundle.credential);
    if (own) tenant_ = std::string(own->tenant_id);
  }
  void Start() {
    if (!s_.bundle.noise_key) {
      first_ = "no noise.key (a device bundle is needed)";
      s_.loop->RequestStop();
      return;
    }
    first_link_ = Dial();
  }
  int Report() const {
    fmt::print("replay first={} second={}\n", first_, second_);
    std::fflush(stdout);
    return first_ == "accepted" && second_.starts_with("refused") ? 0 : 1;
  }

 private:
  void OnLinkUp(link::TlsLink& link, const link::LinkIdentity& /*id*/) override {
    std::fprintf(stderr, "strait-adversary replay: %s link up, SESSION_REQUEST\n",
                 &link == first_link_ ? "first" : "second");
    const std::array<std::uint8_t, 1> no_preference{0};  // SESSION_REQUEST: str8 preferred_connector = ""
    (void)link.SendFrame(tunnel::FrameType::kSessionRequest, 0, 0, no_preference);
    link.Flush();
  }
  void OnFrame(link::TlsLink& link, const link::Frame& f) override {
    const bool first = &link == first_link_;
    std::fprintf(stderr, "strait-adversary replay: %s link: frame type %u channel %u\n", first ? "first" : "second",
                 static_cast<unsigned>(f.header.type), f.header.channel);
    switch (f.header.type) {
      case tunnel::FrameType::kSessionOffer: {
        if (first) {
          if (!WriteInit(f.payload)) return Finish();
        }
        (void)link.SendFrame(tunnel::FrameType::kSessionInit, 0, f.header.channel,
                             std::span<const std::uint8_t>(init_.data(), init_size_));
        link.Flush();
        return;
      }
      case tunnel::FrameType::kSessionAccept:
        if (first) {
          first_ = "accepted";
          second_link_ = Dial();  // the first session stays up; the replay goes to a new one
        } else {
          second_ = "ACCEPTED";
          Finish();
        }
        return;
      case tunnel::FrameType::kSessionClose: {
        auto c = tunnel::SessionClose::Decode(f.payload);
        const std::string what =
            c ? fmt::format("refused code={} reason={:?}", static_cast<int>(c->code),
                            std::string(c->reason.begin(), c->reason.end()))
              : std::string("refused (undecodable SESSION_CLOSE)");
        if (first) {
          first_ = what;
        } else {
          second_ = what;
        }
        Finish();
        return;
      }
      default:
        return;
    }
  }
  void OnLinkDown(link::TlsLink& link, const link::LinkDown& down) override {
    const std::string what = fmt::format("link-down:{}:code{}", link::DownReasonName(down.reason), down.code);
    std::fprintf(stderr, "strait-adversary replay: %s (%s)\n", what.c_str(), down.message.c_str());
    if (&link == first_link_ && first_ == "none") first_ = what;
    if (&link == second_link_ && second_ == "none") second_ = what;
    if (&link == first_link_) first_link_ = nullptr;
    if (&link == second_link_) second_link_ = nullptr;
    Park(link);
  }
  bool WriteInit(std::span<const std::uint8_t> offer_payload) {
    auto offer = tunnel::SessionOffer::Decode(offer_payload);
    if (!offer) {
      first_ = "bad SESSION_OFFER";
      return false;
    }
    const auto now = static_cast<std::uint64_t>(std::time(nullptr));
    tunnel::E2eIdentity self;
    self.static_key = &*s_.bundle.noise_key;
    self.root_key = &s_.bundle.root_public_key;
    self.tenant = tenant_;
    self.now_unix = now;
    auto connector = tunnel::VerifyOfferedConnector(offer->connector_credential, self, std::nullopt);
    if (!connector) {
      first_ = "offered connector refused: " + connector.error().reason;
      return false;
    }
    tunnel::DeviceHandshake mine;
    mine.credential = s_.bundle.credential;
    mine.timestamp = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
    auto started = tunnel::WriteSessionInit(self, connector->noise_key, mine, init_);
    if (!started) {
      first_ = "WriteSessionInit: " + started.error().reason;
      return false;
    }
    init_size_ = started->message_size;
    return true;
  }
  void Finish() { s_.loop->RequestStop(); }

  std::string tenant_;
  std::array<std::uint8_t, tunnel::kMaxNoiseMessageBytes> init_{};
  std::size_t init_size_ = 0;
  link::TlsLink* first_link_ = nullptr;
  link::TlsLink* second_link_ = nullptr;
  std::string first_ = "none";
  std::string second_ = "none";
};

template <class Mode>
int RunMode(const LinkToolOptions& o, std::uint32_t links) {
  Setup s;
  if (!Prepare(o, links, s)) return 2;
  int rc = 0;
  {
    Mode m(s, o);
    m.Start();
    s.loop->Run();
    rc = m.Report();
  }
  return rc;
}

}  // namespace

int RunProbe(const LinkToolOptions& o) { return RunMode<Prober>(o, o.parallel); }
int RunPingFlood(const LinkToolOptions& o) { return RunMode<PingFlooder>(o, 1); }
int RunReplay(const LinkToolOptions& o) { return RunMode<Replayer>(o, 2); }

}  // namespace strait::adversary
