#include "tunnel/control/subscriber.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <random>

#include <fmt/format.h>

#include "tunnel/control/json_fields.h"

namespace strait::control {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// `d` +- percent, uniformly.
milliseconds Jitter(milliseconds d, unsigned percent) {
  thread_local std::minstd_rand rng{std::random_device{}()};
  const int64_t span = d.count() * percent / 100;
  if (span <= 0) return d;
  std::uniform_int_distribution<int64_t> dist(-span, span);
  return d + milliseconds(dist(rng));
}

}  // namespace

std::string_view SubscriberStateName(SubscriberState s) {
  switch (s) {
    case SubscriberState::kFollowing: return "following";
    case SubscriberState::kDisconnected: return "disconnected";
    case SubscriberState::kRevoked: return "revoked";
    case SubscriberState::kStopped: return "stopped";
  }
  return "unknown";
}

Result<std::string, HttpResultError> MachineAuthorization(const HttpsConnection& conn, crypto::Role role,
                                                          std::span<const uint8_t> credential,
                                                          const crypto::Ed25519KeyPair& key) {
  std::array<uint8_t, wire::kExporterBytes> exporter{};
  if (auto r = conn.Export(wire::kControlExporterLabel, exporter); !r) return Fail(r.error());
  const std::string message = wire::ControlProofMessage(crypto::RoleName(role), exporter);
  const crypto::Ed25519Signature proof =
      key.Sign(std::span(reinterpret_cast<const uint8_t*>(message.data()), message.size()));
  return fmt::format("{} cred={}, proof={}", wire::kCredentialAuthScheme, internal::EncodeBase64(credential),
                     internal::EncodeBase64(proof.bytes()));
}

Result<std::unique_ptr<Subscriber>, std::string> Subscriber::Create(SubscriberOptions options,
                                                                    std::vector<uint8_t> credential,
                                                                    crypto::Ed25519KeyPair key,
                                                                    SubscriberHandler* handler) {
  auto url = ParseHttpsUrl(options.url);
  if (!url) return Fail(url.error().reason);
  if (options.ca_pem.empty()) return Fail(std::string("no CA for the control plane's certificate"));
  if (options.snapshot_target.empty() || options.events_target.empty()) return Fail(std::string("no targets"));
  if (options.backoff_initial.count() <= 0 || options.backoff_max < options.backoff_initial) {
    return Fail(std::string("backoff: 0 < initial <= max"));
  }
  const int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) return Fail(fmt::format("eventfd: {}", strerror(errno)));
  return std::unique_ptr<Subscriber>(
      new Subscriber(std::move(options), std::move(*url), std::move(credential), std::move(key), handler, wake));
}

Subscriber::Subscriber(SubscriberOptions options, HttpsUrl url, std::vector<uint8_t> credential,
                       crypto::Ed25519KeyPair key, SubscriberHandler* handler, int wake_fd)
    : options_(std::move(options)),
      url_(std::move(url)),
      handler_(handler),
      wake_fd_(wake_fd),
      credential_(std::move(credential)),
      key_(std::move(key)) {}

Subscriber::~Subscriber() {
  Stop();
  close(wake_fd_);
}

void Subscriber::Start() { thread_ = std::thread([this] { Run(); }); }

void Subscriber::Stop() {
  stopping_.store(true, std::memory_order_release);
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));  // stays readable: every later wait returns at once
  if (thread_.joinable()) thread_.join();
}

void Subscriber::SetCredential(std::vector<uint8_t> credential, crypto::Ed25519KeyPair key) {
  std::lock_guard lock(mu_);
  credential_ = std::move(credential);
  key_ = std::move(key);
}

SubscriberCounters Subscriber::counters() const {
  std::lock_guard lock(mu_);
  return counters_;
}

void Subscriber::Status(SubscriberState s, std::string reason, milliseconds retry_in) {
  handler_->OnStatus({.state = s, .reason = std::move(reason), .retry_in = retry_in,
                      .resume_point = reader_.resume_point()});
}

bool Subscriber::Sleep(milliseconds d) {
  pollfd p{wake_fd_, POLLIN, 0};
  const auto deadline = Clock::now() + d;
  while (!stopping_.load(std::memory_order_acquire)) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return true;
    if (poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 60'000))) > 0) return false;
  }
  return false;
}

Result<HttpsConnection, HttpResultError> Subscriber::Connect() {
  {
    std::lock_guard lock(mu_);
    ++counters_.connects;
  }
  return HttpsConnection::Connect(url_, {.ca_pem = options_.ca_pem,
                                         .timeout = options_.connect_timeout,
                                         .max_response_bytes = wire::kMaxSnapshotBytes,
                                         .cancel_fd = wake_fd_});
}

Result<HttpResponse, HttpResultError> Subscriber::Send(HttpsConnection& conn, const std::string& target, bool stream) {
  std::vector<uint8_t> credential;
  crypto::Ed25519KeyPair key;
  {
    std::lock_guard lock(mu_);
    credential = credential_;
    key = key_;
  }
  auto auth = MachineAuthorization(conn, options_.role, credential, key);
  if (!auth) return Fail(auth.error());
  HttpRequest req{.method = "GET", .target = target, .headers = {{"Authorization", std::move(*auth)}}, .body = {}};
  req.headers.emplace_back("Accept", stream ? "application/x-ndjson" : "application/json");
  return stream ? conn.OpenStream(req) : conn.Exchange(req);
}

Subscriber::Outcome Subscriber::OnProblem(const HttpResponse& resp, std::string* why) {
  const ProblemInfo p = DecodeProblem(resp.status, resp.body);
  *why = fmt::format("{} {}: {}", resp.status, p.name, p.detail);
  if (resp.status == 410) return Outcome::kSnapshotAgain;
  if (IsRevocation(p)) {
    Status(SubscriberState::kRevoked, *why);
    return Outcome::kEnd;
  }
  return Outcome::kRetry;
}

Subscriber::Outcome Subscriber::TakeSnapshot(std::string* why) {
  auto conn = Connect();
  if (!conn) {
    *why = fmt::format("connect: {}", conn.error().reason);
    return conn.error().code == HttpError::kCancelled ? Outcome::kEnd : Outcome::kRetry;
  }
  auto resp = Send(*conn, options_.snapshot_target, /*stream=*/false);
  if (!resp) {
    *why = fmt::format("snapshot: {}", resp.error().reason);
    return resp.error().code == HttpError::kCancelled ? Outcome::kEnd : Outcome::kRetry;
  }
  if (resp->status != 200) return OnProblem(*resp, why);
  auto as_of = handler_->OnSnapshot(resp->body);
  if (!as_of) {
    *why = fmt::format("snapshot refused: {}", as_of.error());
    return Outcome::kRetry;
  }
  reader_.set_resume_point(*as_of);
  have_snapshot_ = true;
  std::lock_guard lock(mu_);
  ++counters_.snapshots;
  counters_.resume_point = *as_of;
  return Outcome::kOk;
}

Subscriber::Outcome Subscriber::Follow(std::string* why) {
  auto conn = Connect();
  if (!conn) {
    *why = fmt::format("connect: {}", conn.error().reason);
    return conn.error().code == HttpError::kCancelled ? Outcome::kEnd : Outcome::kRetry;
  }
  const std::string target = fmt::format("{}?after={}", options_.events_target, reader_.resume_point());
  auto resp = Send(*conn, target, /*stream=*/true);
  if (!resp) {
    *why = fmt::format("events: {}", resp.error().reason);
    return resp.error().code == HttpError::kCancelled ? Outcome::kEnd : Outcome::kRetry;
  }
  if (resp->status != 200) return OnProblem(*resp, why);
  Status(SubscriberState::kFollowing, fmt::format("after={}", reader_.resume_point()));
  reader_.Reset();
  auto last_read = Clock::now();
  std::string bytes;
  std::vector<Event> events;
  for (;;) {
    bytes.clear();
    const auto silent = std::chrono::duration_cast<milliseconds>(Clock::now() - last_read);
    if (silent >= options_.read_timeout) {
      *why = fmt::format("the stream was silent for {} ms", silent.count());
      return Outcome::kRetry;
    }
    auto open = conn->ReadStream(options_.read_timeout - silent, &bytes);
    if (!open) {
      *why = fmt::format("events: {}", open.error().reason);
      return open.error().code == HttpError::kCancelled ? Outcome::kEnd : Outcome::kRetry;
    }
    if (!bytes.empty()) {
      last_read = Clock::now();
      progressed_ = true;
      events.clear();
      const StreamStatus st = reader_.Feed(bytes, &events);
      for (const Event& e : events) {
        const SubscriberVerdict v = handler_->OnEvent(e);
        {
          std::lock_guard lock(mu_);
          ++(e.type == EventType::kHeartbeat ? counters_.heartbeats : counters_.events);
          counters_.resume_point = reader_.resume_point();
        }
        if (v == SubscriberVerdict::kResync) {
          *why = "the handler asked for a snapshot";
          return Outcome::kSnapshotAgain;
        }
        if (v == SubscriberVerdict::kStop) {
          Status(SubscriberState::kStopped, fmt::format("after event {}", e.id));
          return Outcome::kEnd;
        }
      }
      if (st != StreamStatus::kOk) {
        std::lock_guard lock(mu_);
        ++counters_.bad_lines;
        *why = fmt::format("events: {}: {}", StreamStatusName(st), reader_.last_error());
        return Outcome::kRetry;
      }
    }
    if (!*open) {
      *why = "the server ended the stream";
      return Outcome::kRetry;
    }
  }
}

void Subscriber::Run() {
  milliseconds backoff = options_.backoff_initial;
  while (!stopping_.load(std::memory_order_acquire)) {
    std::string why;
    progressed_ = false;
    Outcome o = have_snapshot_ ? Follow(&why) : TakeSnapshot(&why);
    if (o == Outcome::kOk) {
      backoff = options_.backoff_initial;
      continue;  // now follow
    }
    if (o == Outcome::kEnd) break;
    if (progressed_) backoff = options_.backoff_initial;
    if (o == Outcome::kSnapshotAgain) {
      have_snapshot_ = false;
      if (progressed_) {  // a resync or 410 after a working stream: at once
        Status(SubscriberState::kDisconnected, why);
        continue;
      }
    }
    {
      std::lock_guard lock(mu_);
      ++counters_.failures;
    }
    const milliseconds delay = Jitter(backoff, wire::kBackoffJitterPercent);
    Status(SubscriberState::kDisconnected, why, delay);
    if (!Sleep(delay)) break;
    backoff = std::min(backoff * 2, options_.backoff_max);
  }
  if (!stopping_.load(std::memory_order_acquire)) finished_.store(true, std::memory_order_release);
}

}  // namespace strait::control
