// strait-control-load: drives a served strait-control over HTTPS (Boost.Beast + Asio on OpenSSL 3, like
// strait-control itself: this process links no BoringSSL) and reports requests per second, latency p50/p99 and the
// control plane's CPU per request (utime + stime of --pid from /proc, before and after the timed phase).
//
// Scenarios (docs/control-plane.md §10; the method is in bench/control/README.md):
//   read      GET /v1/tenants/{t}/users/{u} on keep-alive connections
//   write     POST /v1/tenants/{t}/users, each with a distinct email, on keep-alive connections
//   activate  untimed: POST /activations and a fresh Ed25519 + X25519 pair per device; timed: POST /v1/activate, each
//             on a new TLS connection (a device activates once), with the MAC over the TLS exporter and the key proof
//             (control-plane/api/activation_code.h: the same functions the server checks them with)
//
// Setup (untimed) with the operator key: a tenant bench-<random>, its admin key, one user. Load: --threads threads,
// each an io_context running --connections connections as coroutines, one request in flight per connection, until
// --time seconds pass or --requests were sent. Output: one line of key=value on stdout (bench/control/run.sh reads it).
#include <openssl/ssl.h>
#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "control-plane/api/activation_code.h"
#include "control-plane/api/formats.h"
#include "crypto/keys.h"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Stream = beast::ssl_stream<beast::tcp_stream>;

struct Options {
  std::string address;  // 127.0.0.1:port
  std::string ca;       // the control plane's CA (DATA/tls-ca/ca.pem)
  std::string key;      // the operator API key
  std::string scenario = "read";
  int threads = 2;
  int connections = 8;
  double seconds = 10;
  int64_t requests = 20'000;
  int pid = 0;  // the control plane's, for its CPU time; 0: not measured
};

struct Reply {
  unsigned status = 0;
  std::string body;
  std::string error;  // transport failure
};

// One request on an open stream; Connection: keep-alive.
asio::awaitable<Reply> Exchange(Stream& s, bhttp::verb verb, const std::string& target, const std::string& key,
                                const std::string& body) {
  Reply out;
  bhttp::request<bhttp::string_body> req{verb, target, 11};
  req.set(bhttp::field::host, "localhost");
  if (!key.empty()) req.set(bhttp::field::authorization, "Bearer " + key);
  if (!body.empty() || verb == bhttp::verb::post) {
    req.set(bhttp::field::content_type, "application/json");
    req.body() = body;
  }
  req.keep_alive(true);
  req.prepare_payload();
  beast::error_code ec;
  co_await bhttp::async_write(s, req, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    out.error = ec.message();
    co_return out;
  }
  beast::flat_buffer buf;
  bhttp::response<bhttp::string_body> res;
  co_await bhttp::async_read(s, buf, res, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    out.error = ec.message();
    co_return out;
  }
  out.status = res.result_int();
  out.body = std::move(res.body());
  co_return out;
}

asio::awaitable<std::optional<std::string>> Open(Stream& s, const tcp::endpoint& ep) {
  beast::error_code ec;
  co_await beast::get_lowest_layer(s).async_connect(ep, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return "connect: " + ec.message();
  co_await s.async_handshake(ssl::stream_base::client, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return "handshake: " + ec.message();
  co_return std::nullopt;
}

// What the whole run shares: the work counter, the results, and the first error (reported once).
struct Shared {
  std::atomic<int64_t> issued{0};
  int64_t limit = 0;
  Clock::time_point deadline;
  std::mutex mu;
  std::vector<double> latencies_ms;  // [mu]
  int64_t ok = 0;                    // [mu]
  int64_t errors = 0;                // [mu]
  std::string first_error;           // [mu]
  std::string tls_version, cipher;   // [mu]

  // The index of the next request, or -1 when the run is over.
  int64_t Take() {
    if (Clock::now() >= deadline) return -1;
    const int64_t n = issued.fetch_add(1);
    return n < limit ? n : -1;
  }
  void Record(const std::vector<double>& mine, int64_t ok_n, int64_t err_n, const std::string& err) {
    std::lock_guard lock(mu);
    latencies_ms.insert(latencies_ms.end(), mine.begin(), mine.end());
    ok += ok_n;
    errors += err_n;
    if (first_error.empty()) first_error = err;
  }
  // What the first connection negotiated (every connection of a run asks for the same).
  void Negotiated(Stream& s) {
    std::lock_guard lock(mu);
    if (!tls_version.empty()) return;
    tls_version = SSL_get_version(s.native_handle());
    cipher = SSL_CIPHER_get_name(SSL_get_current_cipher(s.native_handle()));
  }
};

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// read / write: one keep-alive connection, requests until the run is over.
asio::awaitable<void> KeepAliveWorker(ssl::context& tls, tcp::endpoint ep, Shared& sh, bhttp::verb verb,
                                      std::string target, std::string key, std::string tag, int conn) {
  Stream s(co_await asio::this_coro::executor, tls);
  std::vector<double> mine;
  int64_t ok = 0, err = 0;
  std::string first;
  if (auto e = co_await Open(s, ep)) {
    sh.Record(mine, 0, 1, *e);
    co_return;
  }
  sh.Negotiated(s);
  for (int64_t n; (n = sh.Take()) >= 0;) {
    std::string body;
    if (verb == bhttp::verb::post) {
      body = fmt::format(R"({{"email":"u{}-{}-{}@bench.example","display_name":"Bench user"}})", tag, conn, n);
    }
    const auto t0 = Clock::now();
    Reply r = co_await Exchange(s, verb, target, key, body);
    mine.push_back(Ms(Clock::now() - t0));
    if (r.status >= 200 && r.status < 300) {
      ++ok;
    } else {
      ++err;
      if (first.empty()) first = r.error.empty() ? fmt::format("{} {}", r.status, r.body.substr(0, 200)) : r.error;
      if (!r.error.empty()) break;  // the connection is gone
    }
  }
  sh.Record(mine, ok, err, first);
}

// A device waiting to activate: its code and its keys, made before the timed phase.
struct Enrollee {
  strait::control::ActivationCode code;
  strait::crypto::Ed25519KeyPair signing;
  strait::crypto::X25519KeyPair noise;
};

std::string RedeemBody(const Enrollee& d, strait::control::Exporter e) {
  using namespace strait::control;
  const ActivationKey k = DeriveActivationKey(d.code);
  const Mac mac = ActivateMac(k, ActivateMacInput(e, d.code.id(), ActivationKind::kDevice,
                                                  d.signing.public_key.bytes(), d.noise.public_key.bytes(),
                                                  std::nullopt));
  const auto proof = d.signing.Sign(KeyProofInput(e));
  nlohmann::json j = {{"activation", std::string(d.code.id())},
                      {"kind", "device"},
                      {"signing_key", EncodeBase64(d.signing.public_key.bytes())},
                      {"noise_key", EncodeBase64(d.noise.public_key.bytes())},
                      {"key_proof", EncodeBase64(proof.bytes())},
                      {"mac", EncodeBase64(mac)},
                      {"device", {{"os", "linux"}, {"model", "bench"}}}};
  return j.dump();
}

// activate: each redeem on a new TLS connection (what a device does), the handshake inside the timing.
asio::awaitable<void> ActivateWorker(ssl::context& tls, tcp::endpoint ep, Shared& sh,
                                     const std::vector<Enrollee>& devices) {
  std::vector<double> mine;
  int64_t ok = 0, err = 0;
  std::string first;
  for (int64_t n; (n = sh.Take()) >= 0 && n < static_cast<int64_t>(devices.size());) {
    const auto t0 = Clock::now();
    Stream s(co_await asio::this_coro::executor, tls);
    Reply r;
    if (auto failed = co_await Open(s, ep)) {
      r.error = *failed;
    } else {
      std::array<uint8_t, strait::control::kExporterBytes> e{};
      const std::string_view label = strait::control::kActivateExporterLabel;
      SSL_export_keying_material(s.native_handle(), e.data(), e.size(), label.data(), label.size(), nullptr, 0, 0);
      r = co_await Exchange(s, bhttp::verb::post, "/v1/activate", "", RedeemBody(devices[n], e));
    }
    mine.push_back(Ms(Clock::now() - t0));
    if (r.status == 200) {
      ++ok;
    } else {
      ++err;
      if (first.empty()) first = r.error.empty() ? fmt::format("{} {}", r.status, r.body.substr(0, 200)) : r.error;
    }
    if (r.error.empty()) {
      sh.Negotiated(s);
      beast::error_code ec;
      co_await s.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
    }
  }
  sh.Record(mine, ok, err, first);
}

// Setup requests, one at a time on one connection.
class SetupClient {
 public:
  SetupClient(ssl::context& tls, tcp::endpoint ep) : tls_(tls), ep_(ep) {}
  Reply Call(bhttp::verb verb, const std::string& target, const std::string& key, const std::string& body = "") {
    Reply out;
    asio::co_spawn(
        ioc_,
        [&]() -> asio::awaitable<void> {
          if (!s_) {
            s_.emplace(co_await asio::this_coro::executor, tls_);
            if (auto e = co_await Open(*s_, ep_)) {
              out.error = *e;
              s_.reset();
              co_return;
            }
          }
          out = co_await Exchange(*s_, verb, target, key, body);
          if (!out.error.empty()) s_.reset();
        },
        asio::detached);
    ioc_.restart();
    ioc_.run();
    return out;
  }

 private:
  asio::io_context ioc_;
  ssl::context& tls_;
  tcp::endpoint ep_;
  std::optional<Stream> s_;
};

// utime + stime of `pid` in seconds (fields 14 and 15 of /proc/PID/stat, after the parenthesised name).
std::optional<double> CpuSeconds(int pid) {
  std::ifstream f(fmt::format("/proc/{}/stat", pid));
  std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const size_t close = all.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(all.substr(close + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stod(field);
    if (i == 15) stime = std::stod(field);
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  return v[i];
}

int Fail(const std::string& why) {
  std::fprintf(stderr, "strait-control-load: %s\n", why.c_str());
  return 1;
}

int Run(const Options& o) {
  if (sodium_init() < 0) return Fail("libsodium did not initialise");
  const size_t colon = o.address.rfind(':');
  if (colon == std::string::npos) return Fail("--address: want ip:port");
  beast::error_code ec;
  const auto ip = asio::ip::make_address(o.address.substr(0, colon), ec);
  if (ec) return Fail("--address: " + ec.message());
  const tcp::endpoint ep(ip, static_cast<uint16_t>(std::stoi(o.address.substr(colon + 1))));
  std::ifstream caf(o.ca);
  const std::string ca_pem((std::istreambuf_iterator<char>(caf)), std::istreambuf_iterator<char>());
  if (ca_pem.empty()) return Fail("--ca: cannot read " + o.ca);
  ssl::context tls(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_3_VERSION);
  tls.add_certificate_authority(asio::buffer(ca_pem));
  tls.set_verify_mode(ssl::verify_peer);

  // ---- setup (untimed) ----
  SetupClient setup(tls, ep);
  std::array<uint8_t, 5> rnd{};
  randombytes_buf(rnd.data(), rnd.size());
  std::string tag;
  for (uint8_t b : rnd) tag += fmt::format("{:02x}", b);
  const std::string tenant = "bench-" + tag;
  Reply r = setup.Call(bhttp::verb::post, "/v1/tenants", o.key,
                       fmt::format(R"({{"id":"{}","display_name":"Bench","seats":1000000}})", tenant));
  if (r.status != 201) return Fail(fmt::format("create tenant: {} {}{}", r.status, r.body, r.error));
  r = setup.Call(bhttp::verb::post, "/v1/tenants/" + tenant + "/api-keys", o.key, R"({"name":"bench","role":"admin"})");
  if (r.status != 201) return Fail(fmt::format("create admin key: {} {}{}", r.status, r.body, r.error));
  const std::string admin = nlohmann::json::parse(r.body).value("key", "");
  const std::string base = "/v1/tenants/" + tenant;
  r = setup.Call(bhttp::verb::post, base + "/users", admin, R"({"email":"ann@bench.example","display_name":"Ann"})");
  if (r.status != 201) return Fail(fmt::format("create user: {} {}{}", r.status, r.body, r.error));
  const std::string user = nlohmann::json::parse(r.body).value("id", "");

  std::vector<Enrollee> devices;
  if (o.scenario == "activate") {
    // The pending-activation bound is 10,000 per tenant (docs/control-plane.md §8).
    const int64_t n = std::min<int64_t>(o.requests, 10'000);
    devices.reserve(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      r = setup.Call(bhttp::verb::post, base + "/activations", admin,
                     fmt::format(R"({{"kind":"device","user":"{}","os":"linux"}})", user));
      if (r.status != 201) return Fail(fmt::format("create activation: {} {}{}", r.status, r.body, r.error));
      auto code = strait::control::ActivationCode::Parse(nlohmann::json::parse(r.body).value("code", ""));
      if (!code) return Fail("create activation: no code in the reply");
      devices.push_back({*code, strait::crypto::Ed25519KeyPair::Generate(), strait::crypto::X25519KeyPair::Generate()});
    }
  } else if (o.scenario != "read" && o.scenario != "write") {
    return Fail("--scenario: read, write or activate");
  }

  // ---- timed ----
  Shared sh;
  sh.limit = o.scenario == "activate" ? static_cast<int64_t>(devices.size()) : o.requests;
  const auto cpu0 = o.pid > 0 ? CpuSeconds(o.pid) : std::nullopt;
  const auto t0 = Clock::now();
  sh.deadline = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  std::vector<std::thread> threads;
  for (int t = 0; t < o.threads; ++t) {
    threads.emplace_back([&, t] {
      asio::io_context ioc;
      for (int c = 0; c < o.connections; ++c) {
        const int conn = t * o.connections + c;
        if (o.scenario == "read") {
          asio::co_spawn(ioc, KeepAliveWorker(tls, ep, sh, bhttp::verb::get, base + "/users/" + user, admin, tag, conn),
                         asio::detached);
        } else if (o.scenario == "write") {
          asio::co_spawn(ioc, KeepAliveWorker(tls, ep, sh, bhttp::verb::post, base + "/users", admin, tag, conn),
                         asio::detached);
        } else {
          asio::co_spawn(ioc, ActivateWorker(tls, ep, sh, devices), asio::detached);
        }
      }
      ioc.run();
    });
  }
  for (auto& th : threads) th.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  const auto cpu1 = o.pid > 0 ? CpuSeconds(o.pid) : std::nullopt;

  const double rps = static_cast<double>(sh.ok) / elapsed;
  const double cpu_us = (cpu0 && cpu1 && sh.ok > 0) ? (*cpu1 - *cpu0) * 1e6 / static_cast<double>(sh.ok) : -1;
  std::printf(
      "control-load scenario=%s ok=%lld errors=%lld seconds=%.2f rps=%.1f p50_ms=%.2f p99_ms=%.2f "
      "cpu_us_per_req=%.0f tls=%s cipher=%s threads=%d connections=%d\n",
      o.scenario.c_str(), static_cast<long long>(sh.ok), static_cast<long long>(sh.errors), elapsed, rps,
      Percentile(sh.latencies_ms, 0.50), Percentile(sh.latencies_ms, 0.99), cpu_us,
      sh.tls_version.empty() ? "-" : sh.tls_version.c_str(), sh.cipher.empty() ? "-" : sh.cipher.c_str(), o.threads,
      o.connections);
  if (!sh.first_error.empty()) std::fprintf(stderr, "strait-control-load: first error: %s\n", sh.first_error.c_str());
  return sh.ok > 0 && sh.errors == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"Load for a served strait-control: API reads, writes and activations per second (bench/control)"};
  app.add_option("--address", o.address, "The control plane's ip:port")->required();
  app.add_option("--ca", o.ca, "Its TLS CA (DATA/tls-ca/ca.pem)")->required();
  app.add_option("--key", o.key, "An operator API key")->required();
  app.add_option("--scenario", o.scenario, "read, write or activate (read)");
  app.add_option("--threads", o.threads, "Client threads (2)")->check(CLI::Range(1, 64));
  app.add_option("--connections", o.connections, "Connections per thread (8)")->check(CLI::Range(1, 1024));
  app.add_option("--time", o.seconds, "Seconds of load at most (10)")->check(CLI::Range(0.1, 3600.0));
  app.add_option("--requests", o.requests, "Requests at most (20000; activate: at most 10000)")
      ->check(CLI::Range(int64_t{1}, int64_t{100'000'000}));
  app.add_option("--pid", o.pid, "The control plane's pid, for its CPU time per request");
  CLI11_PARSE(app, argc, argv);
  return Run(o);
}
