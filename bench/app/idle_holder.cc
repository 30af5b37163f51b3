// strait-idle-holder: opens N authenticated device links to a relay and holds them idle, so bench/app/run.sh can
// read the relay's RSS before and after and report memory per idle device session (target <= 8 KiB).
//
//   strait-idle-holder --identity DEVICE_BUNDLE --relay IP:PORT [--count N] [--parallel P] [--server-name NAME]
//                      [--timeout S] [--hold S]
//
// One io_uring loop (strait_link's TlsLink as a client, the same code a device uses): at most --parallel logins in
// flight; each finished login starts the next. When N links are up it prints "holding N links" on stdout and
// holds them (the links answer keepalives) until SIGTERM/SIGINT or --hold seconds. Links that fail are redialled
// (bounded: at most 3 N dials in all); if N links are not up within --timeout, or every dial is spent with none in
// flight, it prints what it has and exits 1. Progress (links up, logging in, dials, last error) goes to stderr every 5 s.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "crypto/keystore.h"
#include "crypto/tls_context.h"
#include "runtime/event_loop.h"
#include "runtime/net.h"
#include "tunnel/link/tls_link.h"

namespace {

using namespace strait;  // NOLINT(google-build-using-namespace): a small tool

class Holder final : public link::LinkHandler, public runtime::TimerHandler {
 public:
  Holder(runtime::EventLoop& loop, const link::LinkConfig& config, runtime::SocketAddress relay, uint32_t count,
         uint32_t parallel, std::chrono::seconds timeout, std::chrono::seconds hold)
      : loop_(loop), config_(config), relay_(relay), count_(count), parallel_(parallel), hold_(hold) {
    deadline_timer_ = loop_.AddTimer(timeout, this, kDeadline);
    progress_timer_ = loop_.AddTimer(kProgressEvery, this, kProgress);
    links_.reserve(count);
  }

  void Start() {
    for (uint32_t i = 0; i < parallel_ && i < count_; ++i) DialOne();
  }

  uint32_t up() const { return up_; }
  bool failed() const { return failed_; }
  std::string last_error() const { return last_error_; }

  void OnLinkUp(link::TlsLink& /*link*/, const link::LinkIdentity& /*id*/) override {
    --in_flight_;
    ++up_;
    if (up_ == count_) {
      loop_.CancelTimer(deadline_timer_);
      loop_.CancelTimer(progress_timer_);
      fmt::print("holding {} links\n", up_);
      std::fflush(stdout);
      if (hold_.count() > 0) loop_.AddTimer(hold_, this, kHoldOver);
      return;
    }
    if (up_ + in_flight_ < count_) DialOne();
  }
  void OnFrame(link::TlsLink& /*link*/, const link::Frame& /*frame*/) override {}
  void OnLinkDown(link::TlsLink& link, const link::LinkDown& down) override {
    if (down.was_up) {
      --up_;
    } else {
      --in_flight_;
    }
    if (!loop_.stopping()) {
      last_error_ = fmt::format("{} (code {}): {}", link::DownReasonName(down.reason), down.code, down.message);
    }
    // The link is destroyed later (not inside its own callback's caller frame): park it.
    for (auto& l : links_) {
      if (l.get() == &link) {
        dead_.push_back(std::move(l));
        l = std::move(links_.back());
        links_.pop_back();
        break;
      }
    }
    if (!loop_.stopping() && up_ + in_flight_ < count_) DialOne();
    GiveUpIfStuck();
  }

  void OnTimer(runtime::EventLoop& loop, runtime::TimerId /*id*/, uint64_t arg) override {
    if (arg == kProgress) {
      std::fprintf(stderr, "strait-idle-holder: %u of %u links up, %u logging in, %llu dials (last error: %s)\n", up_,
                   count_, in_flight_, static_cast<unsigned long long>(dials_),
                   last_error_.empty() ? "none" : last_error_.c_str());
      progress_timer_ = loop.AddTimer(kProgressEvery, this, kProgress);
      return;
    }
    if (arg == kDeadline) {
      failed_ = true;
      last_error_ = fmt::format("only {} of {} links up before --timeout (last error: {})", up_, count_,
                                last_error_.empty() ? "none" : last_error_);
    }
    loop.RequestStop();
  }

 private:
  static constexpr uint64_t kDeadline = 1;
  static constexpr uint64_t kHoldOver = 2;
  static constexpr uint64_t kProgress = 3;
  static constexpr std::chrono::seconds kProgressEvery{5};

  // Every dial used and nothing left in flight: waiting for --timeout would only hide the failure.
  void GiveUpIfStuck() {
    if (loop_.stopping() || failed_ || up_ >= count_ || in_flight_ != 0 || dials_ < 3ull * count_) return;
    failed_ = true;
    last_error_ = fmt::format("only {} of {} links up after {} dials (last error: {})", up_, count_, dials_,
                              last_error_.empty() ? "none" : last_error_);
    loop_.RequestStop();
  }

  void DialOne() {
    if (dials_ >= 3ull * count_) return;  // bounded retries
    ++dials_;
    auto l = std::make_unique<link::TlsLink>(loop_, shared_, config_, *this);
    if (!l->Connect(relay_)) {
      last_error_ = "no free connection slot or socket() failed";
      return;
    }
    ++in_flight_;
    links_.push_back(std::move(l));
  }

  runtime::EventLoop& loop_;
  const link::LinkConfig& config_;
  runtime::SocketAddress relay_;
  uint32_t count_;
  uint32_t parallel_;
  std::chrono::seconds hold_;
  link::LinkLoopState shared_;
  std::vector<std::unique_ptr<link::TlsLink>> links_;
  std::vector<std::unique_ptr<link::TlsLink>> dead_;
  runtime::TimerId deadline_timer_;
  runtime::TimerId progress_timer_;
  uint32_t up_ = 0;
  uint32_t in_flight_ = 0;
  uint64_t dials_ = 0;
  bool failed_ = false;
  std::string last_error_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"strait-idle-holder: open N authenticated device links to a relay and hold them idle"};
  std::string identity, relay, server_name = "127.0.0.1";
  uint32_t count = 10000, parallel = 64, timeout_s = 300, hold_s = 0;
  app.add_option("--identity", identity, "Device identity bundle (strait keys issue --role device ... --ca CA)")
      ->required();
  app.add_option("--relay", relay, "Relay device port, IP:PORT")->required();
  app.add_option("--count", count, "Links to open")->capture_default_str()->check(CLI::Range(1u, 19000u));
  app.add_option("--parallel", parallel, "Logins in flight at once")->capture_default_str()->check(CLI::Range(1u, 4096u));
  app.add_option("--server-name", server_name, "Name the relay's TLS certificate must carry")->capture_default_str();
  app.add_option("--timeout", timeout_s, "Seconds to get every link up")->capture_default_str();
  app.add_option("--hold", hold_s, "Seconds to hold once up (0: until SIGTERM)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto bundle = crypto::LoadIdentityBundle(identity);
  if (!bundle) {
    std::fprintf(stderr, "strait-idle-holder: %s\n", bundle.error().reason.c_str());
    return 1;
  }
  if (bundle->ca_pem.empty()) {
    std::fprintf(stderr, "strait-idle-holder: %s has no ca.pem\n", identity.c_str());
    return 1;
  }
  auto tls = crypto::TlsContext::CreateClient({bundle->ca_pem, server_name});
  if (!tls) {
    std::fprintf(stderr, "strait-idle-holder: TLS: %s\n", tls.error().reason.c_str());
    return 1;
  }
  auto addr = runtime::ParseSocketAddress(relay);
  if (!addr) {
    std::fprintf(stderr, "strait-idle-holder: --relay: %s\n", addr.error().reason.c_str());
    return 2;
  }
  link::LinkConfig config;
  config.tls = &*tls;
  config.client.credential = bundle->credential;
  config.client.key = crypto::Ed25519KeyPair::FromSeed(bundle->signing_key.seed);
  config.client.role = tunnel::LinkRole::kDevice;
  config.client.server_root = bundle->root_public_key;  // checks the relay's credential, as a device does

  runtime::LoopOptions lo;
  lo.max_connections = count + 64;
  lo.max_timers = count + 64;
  lo.recv_buffer_count = 1024;
  lo.plain_buffer_count = 2048;
  auto loop = runtime::EventLoop::Create(lo);
  if (!loop) {
    std::fprintf(stderr, "strait-idle-holder: event loop: %s\n", loop.error().reason.c_str());
    return 1;
  }
  runtime::EventLoop& l = **loop;
  std::atomic<bool> done{false};
  std::thread waiter([&] {
    // Waits for a stop signal (or the main thread's wake-up once the loop has returned).
    int sig = 0;
    sigwait(&stop, &sig);
    if (!done.load()) l.RequestStop();
  });
  int rc = 0;
  {
    Holder holder(l, config, *addr, count, parallel, std::chrono::seconds(timeout_s), std::chrono::seconds(hold_s));
    holder.Start();
    l.Run();
    if (holder.failed()) {
      std::fprintf(stderr, "strait-idle-holder: %s\n", holder.last_error().c_str());
      rc = 1;
    }
    done.store(true);
    pthread_kill(waiter.native_handle(), SIGTERM);
    waiter.join();
  }
  return rc;
}
