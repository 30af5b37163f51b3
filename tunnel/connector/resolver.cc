#include "tunnel/connector/resolver.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstring>
#include <utility>

namespace strait::connector {

Resolver::Resolver(runtime::EventLoop& loop, const ResolverOptions& options) : loop_(loop), options_(options) {
  const std::uint32_t n = options_.threads == 0 ? 1 : options_.threads;
  threads_.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) threads_.emplace_back([this] { Run(); });
}

Resolver::~Resolver() { Stop(); }

void Resolver::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
    queue_.clear();
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

bool Resolver::Submit(std::uint64_t token, std::string_view name) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= options_.queue_limit) {
      ++refused_;
      return false;
    }
    queue_.push_back(Job{token, std::string(name)});
  }
  ++submitted_;
  cv_.notify_one();
  return true;
}

std::size_t Resolver::TakeDone(std::vector<ResolveResult>& out) {
  std::lock_guard lock(mu_);
  const std::size_t n = done_.size();
  for (auto& r : done_) out.push_back(std::move(r));
  done_.clear();
  return n;
}

void Resolver::Run() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    ResolveResult result;
    result.token = job.token;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    addrinfo* list = nullptr;
    result.error = ::getaddrinfo(job.name.c_str(), nullptr, &hints, &list);
    if (result.error == 0) {
      for (addrinfo* ai = list; ai != nullptr && result.addresses.size() < options_.max_addresses;
           ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
          sockaddr_in sin;
          std::memcpy(&sin, ai->ai_addr, sizeof sin);
          std::array<std::uint8_t, 4> b;
          std::memcpy(b.data(), &sin.sin_addr, 4);
          result.addresses.push_back(IpAddress::V4(b));
        } else if (ai->ai_family == AF_INET6) {
          sockaddr_in6 sin6;
          std::memcpy(&sin6, ai->ai_addr, sizeof sin6);
          std::array<std::uint8_t, 16> b;
          std::memcpy(b.data(), &sin6.sin6_addr, 16);
          result.addresses.push_back(IpAddress::V6(b));
        }
      }
      ::freeaddrinfo(list);
    }
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      done_.push_back(std::move(result));
    }
    // A refused post (mailbox full) is harmless: the result waits in done_ for the next wake-up or tick.
    (void)loop_.Post(runtime::Message{options_.message_kind, -1, 0, 0});
  }
}

}  // namespace strait::connector
