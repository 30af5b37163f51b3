// strait-forward: a TCP forwarder on the Strait io_uring runtime, kept as a whole-program benchmark tool.
//
//   strait-forward --listen 127.0.0.1:PORT --target 127.0.0.1:PORT [--threads N]
//
// Prints the bound listen address ("127.0.0.1:PORT", port 0 allowed) as the first line on stdout, so scripts can
// find it. Each accepted client gets its own connect to --target; bytes flow both ways with backpressure (a side's
// reads pause while the other side's send queue is above the high watermark), half-close is propagated
// (shutdown(SHUT_WR) after the queued bytes), and a reset or error on one side closes the other after it flushes.
// SIGINT/SIGTERM: clean shutdown (every connection closed, threads joined), summary on stderr.
//
// Threads: loop 0 owns the listener (multishot accept) and deals accepted fds round-robin to all loops, itself
// included, by message (IORING_OP_MSG_RING doorbell where available). A connection pair lives on one loop.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <cstring>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "runtime/event_loop.h"
#include "runtime/loop_group.h"
#include "runtime/net.h"

namespace {

using namespace strait::runtime;

constexpr std::uint32_t kMsgNewClient = 1;
constexpr unsigned kMaxThreads = 64;

// One per loop. Loop thread only (after construction).
class Forwarder final : public ConnectionHandler, public MessageHandler {
 public:
  Forwarder(const SocketAddress& target, std::uint32_t max_connections)
      : target_(target), sides_(max_connections) {}

  void StartPair(EventLoop& loop, int client_fd) {
    SetTcpNoDelay(client_fd);
    const ConnId client = loop.Adopt(client_fd, this);
    if (!client.valid()) {
      close(client_fd);
      ++rejected_;
      return;
    }
    const ConnId server = loop.Connect(target_, this);
    if (!server.valid()) {
      ++rejected_;
      loop.Close(client);
      return;
    }
    sides_[client.slot] = Side{server, false};
    sides_[server.slot] = Side{client, false};
    ++pairs_;
  }

  void OnMessage(EventLoop& loop, const Message& msg) override {
    if (msg.kind == kMsgNewClient && msg.fd >= 0) StartPair(loop, msg.fd);
  }

  void OnConnected(EventLoop& loop, ConnId id) override { SetTcpNoDelay(loop.Fd(id)); }

  void OnData(EventLoop& loop, ConnId id, Buffer data) override {
    // Zero copy: the received buffer itself goes into the peer's send queue. The queue cannot overflow: crossing
    // the high watermark pauses this side synchronously (OnSendQueueHigh), and one buffer < limit - high.
    const SendResult r = loop.Send(sides_[id.slot].peer, std::move(data));
    if (r != SendResult::kQueued) ++dropped_;  // peer closing (kClosed); kQueueFull cannot happen (see above)
  }

  void OnSendQueueHigh(EventLoop& loop, ConnId id) override { loop.PauseRecv(sides_[id.slot].peer); }
  void OnSendQueueLow(EventLoop& loop, ConnId id) override { loop.ResumeRecv(sides_[id.slot].peer); }

  void OnReadClosed(EventLoop& loop, ConnId id) override {
    Side& side = sides_[id.slot];
    side.read_closed = true;
    loop.ShutdownWrite(side.peer);  // propagate the half-close after the queued bytes
    if (side.peer.valid() && sides_[side.peer.slot].read_closed) {
      loop.Close(id, CloseMode::kGraceful);
      loop.Close(side.peer, CloseMode::kGraceful);
    }
  }

  void OnClose(EventLoop& loop, ConnId id, CloseReason reason, int err) override {
    (void)reason;
    (void)err;
    stats_ = loop.stats();  // snapshot for the exit summary (closes are rare; the loop is gone by then)
    const ConnId peer = sides_[id.slot].peer;
    sides_[id.slot] = Side{};
    if (peer.valid() && loop.IsOpen(peer)) {
      sides_[peer.slot].peer = ConnId{};
      loop.Close(peer, CloseMode::kGraceful);  // flush what the peer still has queued, then FIN
    }
  }

  std::uint64_t pairs() const { return pairs_; }
  std::uint64_t rejected() const { return rejected_; }
  std::uint64_t dropped() const { return dropped_; }
  const LoopStats& stats() const { return stats_; }

 private:
  struct Side {
    ConnId peer;
    bool read_closed = false;
  };
  const SocketAddress target_;
  std::vector<Side> sides_;  // indexed by connection slot; preallocated
  std::uint64_t pairs_ = 0;
  std::uint64_t rejected_ = 0;
  std::uint64_t dropped_ = 0;  // received buffers not forwarded because the other side was closing
  LoopStats stats_;            // as of the last OnClose
};

// On loop 0: deals accepted fds round-robin over the loops.
class Acceptor final : public AcceptHandler {
 public:
  Acceptor(LoopGroup* group, std::vector<std::unique_ptr<Forwarder>>* forwarders)
      : group_(group), forwarders_(forwarders) {}

  void OnAccept(EventLoop& loop, ListenerId /*id*/, int fd) override {
    const std::size_t target = next_++ % group_->size();
    if (target == 0) {
      (*forwarders_)[0]->StartPair(loop, fd);
      return;
    }
    if (!loop.PostTo(group_->loop(target), Message{kMsgNewClient, fd, 0, 0})) {
      close(fd);  // target's mailbox full: shed the connection
      ++shed_;
    }
  }
  void OnAcceptError(EventLoop& /*loop*/, ListenerId /*id*/, int err) override {
    std::fprintf(stderr, "strait-forward: accept: %s\n", std::strerror(err));
  }
  std::uint64_t shed() const { return shed_; }

 private:
  LoopGroup* group_;
  std::vector<std::unique_ptr<Forwarder>>* forwarders_;
  std::size_t next_ = 0;
  std::uint64_t shed_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"strait-forward: TCP forwarder on the Strait io_uring runtime"};
  std::string listen_text;
  std::string target_text;
  unsigned threads = 1;
  app.add_option("--listen", listen_text, "address to listen on, IP:PORT (port 0: any)")->required();
  app.add_option("--target", target_text, "address to forward to, IP:PORT")->required();
  app.add_option("--threads", threads, "event loop threads")->check(CLI::Range(1u, kMaxThreads));
  LoopOptions options;
  options.max_connections = 16384;
  // 64 KiB buffers (the runtime's default is 16 KiB): one recv CQE and one send per 64 KiB, and the send is one
  // loopback skb (MTU 65536). Measured in bench/forward/README.md: ~0.36 against ~0.55 CPU-s/GB with 16 KiB.
  // 256 of them keep the recv pool at the same 16 MiB per loop as 1024 x 16 KiB.
  options.buffer_size = 64u << 10;
  options.recv_buffer_count = 256;
  options.plain_buffer_count = 64;
  bool print_stats = false;
  app.add_option("--buffer-size", options.buffer_size, "bytes per pooled buffer, headroom included")
      ->capture_default_str()
      ->check(CLI::Range(4096u, 1u << 20));
  app.add_option("--recv-buffers", options.recv_buffer_count, "provided recv buffers per loop (power of two)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 32768u));
  app.add_option("--send-max-iov", options.send_max_iov, "queued buffers per coalesced SENDMSG (1: off)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1024u));
  app.add_flag("--stats", print_stats, "print each loop's io_uring counters (as of its last close) at exit");
  CLI11_PARSE(app, argc, argv);

  auto listen_addr = ParseSocketAddress(listen_text);
  auto target_addr = ParseSocketAddress(target_text);
  if (!listen_addr || !target_addr) {
    std::fprintf(stderr, "strait-forward: %s\n",
                 (!listen_addr ? listen_addr.error() : target_addr.error()).reason.c_str());
    return 2;
  }

  // Signals are taken synchronously by the main thread (sigwait); loop threads inherit the blocked mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto listen_fd = ListenTcp(*listen_addr, ListenOptions{});
  if (!listen_fd) {
    std::fprintf(stderr, "strait-forward: %s\n", listen_fd.error().reason.c_str());
    return 1;
  }
  auto bound = LocalAddress(*listen_fd);
  if (!bound) {
    std::fprintf(stderr, "strait-forward: %s\n", bound.error().reason.c_str());
    close(*listen_fd);
    return 1;
  }


  std::vector<std::unique_ptr<Forwarder>> forwarders;
  for (unsigned i = 0; i < threads; ++i) {
    forwarders.push_back(std::make_unique<Forwarder>(*target_addr, options.max_connections));
  }
  std::unique_ptr<Acceptor> acceptor;
  std::string features;
  // Written by loop 0's init, read after Start() returns (Start waits for every init).
  bool listening = false;
  auto group = LoopGroup::Start(threads, options, [&](LoopGroup& g, EventLoop& loop, std::size_t index) {
    loop.SetMessageHandler(forwarders[index].get());
    if (index != 0) return;
    features = loop.features().Describe();
    acceptor = std::make_unique<Acceptor>(&g, &forwarders);
    auto l = loop.Listen(*listen_fd, acceptor.get());
    listening = l.ok();
  });
  if (!group) {
    std::fprintf(stderr, "strait-forward: event loop setup: %s (%s)\n", group.error().reason.c_str(),
                 std::strerror(group.error().err));
    close(*listen_fd);
    return 1;
  }
  if (!listening) {
    std::fprintf(stderr, "strait-forward: could not start accepting\n");
    close(*listen_fd);
    group.value()->Stop();
    return 1;
  }
  std::printf("%s\n", bound->ToString().c_str());
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  group.value()->Stop();

  std::uint64_t pairs = 0;
  std::uint64_t rejected = 0;
  std::uint64_t dropped = 0;
  for (auto& f : forwarders) {
    pairs += f->pairs();
    rejected += f->rejected();
    dropped += f->dropped();
  }
  std::fprintf(stderr,
               "strait-forward: stopped on signal %d; pairs=%llu rejected=%llu shed=%llu dropped_buffers=%llu; "
               "features: %s\n",
               sig, static_cast<unsigned long long>(pairs), static_cast<unsigned long long>(rejected),
               static_cast<unsigned long long>(acceptor ? acceptor->shed() : 0),
               static_cast<unsigned long long>(dropped), features.c_str());
  if (print_stats) {
    for (std::size_t i = 0; i < forwarders.size(); ++i) {
      const LoopStats& s = forwarders[i]->stats();
      std::fprintf(stderr,
                   "loop %zu: batches=%llu cqes=%llu recv_completions=%llu recv_bytes=%llu recv_enobufs=%llu "
                   "recv_rearms=%llu recv_pauses=%llu sends=%llu sends_coalesced=%llu send_buffers=%llu send_bytes=%llu\n",
                   i, static_cast<unsigned long long>(s.batches), static_cast<unsigned long long>(s.cqes),
                   static_cast<unsigned long long>(s.recv_completions), static_cast<unsigned long long>(s.recv_bytes),
                   static_cast<unsigned long long>(s.recv_enobufs), static_cast<unsigned long long>(s.recv_rearms),
                   static_cast<unsigned long long>(s.recv_pauses), static_cast<unsigned long long>(s.sends),
                   static_cast<unsigned long long>(s.sends_coalesced), static_cast<unsigned long long>(s.send_buffers),
                   static_cast<unsigned long long>(s.send_bytes));
    }
  }
  return 0;
}
