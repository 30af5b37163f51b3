#include "tests/adversary/adversary_harness.h"

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "crypto/credential.h"
#include "crypto/keystore.h"

namespace strait::e2e {

namespace {

// From CMake (tests/adversary/CMakeLists.txt): $<TARGET_FILE:strait-adversary>.
const char* AdversaryExe() { return STRAIT_ADVERSARY_EXE; }

std::optional<HostPort> ReadyField(const ChildProcess* c, const std::string& prefix, const std::string& key) {
  if (c == nullptr) return std::nullopt;
  for (const auto& line : c->Lines()) {
    if (!line.starts_with(prefix)) continue;
    if (auto v = demo::Field(line, key); v && *v != "-") return demo::ParseHostPort(*v);
  }
  return std::nullopt;
}

std::uint64_t StatusKiB(pid_t pid, const std::string& field) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with(field + ":")) continue;
    return std::strtoull(line.c_str() + field.size() + 1, nullptr, 10);
  }
  return 0;
}

}  // namespace

std::uint64_t Summary::Num(const std::string& key) const {
  auto v = demo::Field(line, key);
  return v ? std::strtoull(v->c_str(), nullptr, 10) : 0;
}

double Summary::Real(const std::string& key) const {
  auto v = demo::Field(line, key);
  return v ? std::strtod(v->c_str(), nullptr) : 0;
}

Relay AdversaryTest::StartRelayWithMetrics(HostPort* metrics, int threads) {
  Relay r = StartRelay(threads);
  auto m = ReadyField(r.process, "relay ready", "metrics");
  EXPECT_TRUE(m) << "relay printed no metrics address";
  if (m) *metrics = *m;
  return r;
}

Connector AdversaryTest::StartConnectorWithMetrics(const std::string& identity, const std::vector<HostPort>& relays,
                                                   bool direct_listen, HostPort* metrics) {
  Connector c = StartConnector(identity, relays, direct_listen, {"--metrics-listen", "127.0.0.1:0"});
  auto m = ReadyField(c.process, "connector ready", "metrics");
  EXPECT_TRUE(m) << "connector printed no metrics address";
  if (m) *metrics = *m;
  return c;
}

ChildProcess* AdversaryTest::SpawnAdversary(const std::string& name, const std::vector<std::string>& args) {
  std::string error;
  auto c = ChildProcess::Start(name, AdversaryExe(), args, fmt::format("{}/{}-{}.stderr", dir_, name, spawned_++),
                               &error);
  EXPECT_TRUE(c) << error;
  if (!c) return nullptr;
  children_.push_back(std::move(c));
  return children_.back().get();
}

void AdversaryTest::WaitReady(ChildProcess* c, const std::string& mode, std::chrono::seconds within) {
  ASSERT_NE(c, nullptr);
  auto line = c->WaitLine(mode + " ready", Deadline(within));
  ASSERT_TRUE(line) << c->name() << " never got its attack in place: " << c->StatusText() << ": "
                    << c->StderrTail(5) << " " << fmt::format("{}", fmt::join(c->Lines(), " | "));
}

Summary AdversaryTest::WaitSummary(ChildProcess* c, const std::string& mode, std::chrono::seconds within) {
  Summary s;
  if (c == nullptr) return s;
  EXPECT_TRUE(c->WaitExit(Deadline(within))) << c->name() << " did not finish in " << within.count() << " s";
  for (const auto& line : c->Lines()) {
    if (line.starts_with(mode + " ") && !line.starts_with(mode + " ready")) s.line = line;
  }
  EXPECT_FALSE(s.line.empty()) << c->name() << " printed no summary: " << c->StatusText() << ": "
                               << c->StderrTail(5);
  return s;
}

std::string AdversaryTest::Scrape(const HostPort& at) {
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  auto c = demo::Connection::Dial(at, deadline);
  EXPECT_TRUE(c) << "metrics " << at.host << ":" << at.port << ": " << (c ? "" : c.error());
  if (!c) return "";
  auto r = demo::HttpGet(*c, at.host, "/metrics", deadline);
  EXPECT_TRUE(r && r->status == 200) << "metrics: " << (r ? fmt::format("HTTP {}", r->status) : r.error());
  return r && r->status == 200 ? r->body : "";
}

std::optional<std::uint64_t> AdversaryTest::Sample(const std::string& metrics, const std::string& sample) {
  const std::string key = sample + " ";
  std::istringstream in(metrics);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with(key)) continue;
    std::uint64_t v = 0;
    const char* b = line.data() + key.size();
    if (std::from_chars(b, line.data() + line.size(), v).ec != std::errc()) return std::nullopt;
    return v;
  }
  return std::nullopt;
}

std::uint64_t AdversaryTest::PeakRssKiB(pid_t pid) { return StatusKiB(pid, "VmHWM"); }
std::uint64_t AdversaryTest::RssKiB(pid_t pid) { return StatusKiB(pid, "VmRSS"); }

std::string AdversaryTest::MakeShortLivedIdentity(const std::string& role, const std::string& tenant,
                                                  const std::string& subject, std::uint64_t seconds) {
  const std::string out = MakeIdentity(role, tenant, subject);
  const std::string tdir = dir_ + "/tenant-" + tenant;
  auto bundle = crypto::LoadIdentityBundle(out);
  auto tenant_key = crypto::LoadEd25519SecretKey(crypto::JoinPath(tdir, crypto::kTenantKeyFile));
  auto tenant_cert = crypto::LoadTenantCert(crypto::JoinPath(tdir, crypto::kTenantCertFile));
  EXPECT_TRUE(bundle && tenant_key && tenant_cert) << "cannot load " << out << " or " << tdir;
  if (!bundle || !tenant_key || !tenant_cert || !bundle->noise_key) return out;
  auto old = crypto::ParseCredential(bundle->credential);
  EXPECT_TRUE(old);
  if (!old) return out;
  const auto now = static_cast<std::uint64_t>(std::time(nullptr));
  crypto::CredentialParams p;
  p.role = bundle->role;
  p.subject_id = old->subject_id;
  p.key = bundle->signing_key.public_key;
  p.noise_key = bundle->noise_key->public_key;
  p.serial = old->serial + 1;
  p.not_before = old->not_before;
  p.not_after = now + seconds;
  auto cred = crypto::IssueCredential(*tenant_key, *tenant_cert, p);
  EXPECT_TRUE(cred) << "re-issuing " << out;
  if (!cred) return out;
  bundle->credential = std::move(cred).value();
  auto saved = crypto::SaveIdentityBundle(out, *bundle, crypto::Overwrite::kReplace);
  EXPECT_TRUE(saved) << "saving " << out << ": " << (saved ? "" : saved.error().reason);
  return out;
}

}  // namespace strait::e2e
