#include "tests/e2e/e2e_harness.h"

#include <signal.h>
#include <stdlib.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <string_view>

#include <fmt/format.h>

namespace strait::e2e {

namespace {

// From CMake (tests/e2e/CMakeLists.txt): $<TARGET_FILE:strait>. A spawn that fails fails the test.
const char* StraitExe() { return STRAIT_EXE; }

}  // namespace

std::optional<std::uint64_t> SampleValue(const std::string& text, const std::string& sample) {
  const std::string key = sample + " ";
  for (std::size_t pos = 0; pos < text.size();) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    if (!line.starts_with(key)) continue;
    std::uint64_t v = 0;
    const auto digits = line.substr(key.size());
    if (std::from_chars(digits.data(), digits.data() + digits.size(), v).ec != std::errc()) return std::nullopt;
    return v;
  }
  return std::nullopt;
}

std::string ScrapeMetrics(const HostPort& at, bool* ok) {
  *ok = false;
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  auto c = demo::Connection::Dial(at, deadline);
  if (!c) return c.error();
  auto r = demo::HttpGet(*c, at.host, "/metrics", deadline);
  if (!r) return r.error();
  if (r->status != 200) return fmt::format("HTTP {}", r->status);
  *ok = true;
  return r->body;
}

void E2eTest::SetUp() {
  ::signal(SIGPIPE, SIG_IGN);
  char tmpl[] = "/tmp/strait-e2e.XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  dir_ = tmpl;
  std::string error;
  http_ = demo::HttpServer::Start({}, &error);
  ASSERT_TRUE(http_) << error;
}

void E2eTest::TearDown() {
  for (auto it = children_.rbegin(); it != children_.rend(); ++it) (*it)->Stop(std::chrono::seconds(5));
  children_.clear();
  http_.reset();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

ChildProcess* E2eTest::Spawn(const std::string& name, const std::vector<std::string>& args) {
  std::string error;
  auto c = ChildProcess::Start(name, StraitExe(), args, fmt::format("{}/{}-{}.stderr", dir_, name, spawned_++),
                               &error);
  EXPECT_TRUE(c) << error;
  if (!c) return nullptr;
  children_.push_back(std::move(c));
  return children_.back().get();
}

void E2eTest::RunStrait(const std::vector<std::string>& args) {
  std::string error;
  auto c = ChildProcess::Start("strait-keys", StraitExe(), args, fmt::format("{}/keys-{}.stderr", dir_, spawned_++),
                               &error);
  ASSERT_TRUE(c) << error;
  ASSERT_TRUE(c->WaitExit(Deadline(kStartDeadline))) << "strait " << fmt::format("{}", fmt::join(args, " "));
  ASSERT_TRUE(c->ExitedCleanly()) << fmt::format("strait {}: {}: {}", fmt::join(args, " "), c->StatusText(),
                                                 c->StderrTail(3));
}

void E2eTest::MakeOperator() {
  RunStrait({"keys", "init-root", "--out", dir_ + "/root"});
  RunStrait({"keys", "tls-ca", "--out", dir_ + "/tls-ca"});
  RunStrait({"keys", "issue", "--role", "relay", "--root", dir_ + "/root", "--subject", "relay-1", "--hours", "2",
             "--tls-ca-dir", dir_ + "/tls-ca", "--name", "localhost", "--ip", "127.0.0.1", "--out",
             dir_ + "/relay"});
}

std::string E2eTest::MakeIdentity(const std::string& role, const std::string& tenant, const std::string& subject) {
  const std::string tdir = dir_ + "/tenant-" + tenant;
  if (!std::filesystem::exists(tdir)) {
    RunStrait({"keys", "tenant", "--root", dir_ + "/root", "--tenant", tenant, "--days", "1", "--out", tdir});
  }
  const std::string out = fmt::format("{}/{}-{}", dir_, role, subject);
  RunStrait({"keys", "issue", "--role", role, "--tenant-dir", tdir, "--subject", subject, "--hours", "2", "--ca",
             dir_ + "/tls-ca", "--out", out});
  return out;
}

std::string E2eTest::MakePolicy() {
  const std::string path = dir_ + "/policy.toml";
  std::ofstream(path) << fmt::format(
      "[[allow]]\ncidrs = [\"127.0.0.1/32\"]\nports = [\"{0}\"]\n\n[[allow]]\nhosts = [\"localhost\"]\n"
      "ports = [\"{0}\"]\n",
      http_port());
  return path;
}

Relay E2eTest::StartRelay(int threads) {
  Relay r;
  std::vector<std::string> args = {"relay", "--identity", dir_ + "/relay", "--device-listen", "127.0.0.1:0",
                                   "--connector-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
                                   "--threads", std::to_string(threads)};
  r.process = Spawn("relay", args);
  if (!r.process) return r;
  auto line = r.process->WaitLine("relay ready", Deadline(kStartDeadline));
  EXPECT_TRUE(line) << "relay: " << r.process->StatusText() << ": " << r.process->StderrTail(3);
  if (!line) return r;
  auto d = demo::Field(*line, "device");
  auto c = demo::Field(*line, "connector");
  auto dp = d ? demo::ParseHostPort(*d) : std::nullopt;
  auto cp = c ? demo::ParseHostPort(*c) : std::nullopt;
  EXPECT_TRUE(dp && cp) << *line;
  if (dp) r.device = *dp;
  if (cp) r.connector = *cp;
  return r;
}

Connector E2eTest::StartConnector(const std::string& identity, const std::vector<HostPort>& relays,
                                  bool direct_listen, const std::vector<std::string>& extra) {
  Connector c;
  std::vector<std::string> args = {"connector", "--identity", identity, "--policy", MakePolicy()};
  for (const auto& r : relays) args.insert(args.end(), {"--relay", fmt::format("{}:{}", r.host, r.port)});
  if (direct_listen) args.insert(args.end(), {"--direct-listen", "127.0.0.1:0"});
  args.insert(args.end(), extra.begin(), extra.end());
  c.process = Spawn("connector", args);
  if (!c.process) return c;
  auto line = c.process->WaitLine("connector ready", Deadline(kStartDeadline), &c.cursor);
  EXPECT_TRUE(line) << "connector: " << c.process->StatusText() << ": " << c.process->StderrTail(3);
  if (!line) return c;
  c.id = demo::Field(*line, "id").value_or("");
  if (auto d = demo::Field(*line, "direct"); d && *d != "-") c.direct = demo::ParseHostPort(*d);
  return c;
}

void E2eTest::WaitConnectorLinkUp(Connector& c) {
  ASSERT_NE(c.process, nullptr);
  auto line = c.process->WaitLine("connector link up", Deadline(kStartDeadline), &c.cursor);
  ASSERT_TRUE(line) << "connector link never came up: " << c.process->StatusText() << ": "
                    << c.process->StderrTail(3);
}

Device E2eTest::StartDevice(const std::string& identity, const std::optional<HostPort>& relay,
                            const std::optional<HostPort>& direct, const std::vector<std::string>& extra) {
  Device d;
  std::vector<std::string> args = {"device", "--identity", identity, "--socks-listen", "127.0.0.1:0"};
  if (relay) args.insert(args.end(), {"--relay", fmt::format("{}:{}", relay->host, relay->port)});
  if (direct) args.insert(args.end(), {"--direct", fmt::format("{}:{}", direct->host, direct->port)});
  args.insert(args.end(), extra.begin(), extra.end());
  d.process = Spawn("device", args);
  if (!d.process) return d;
  auto line = d.process->WaitLine("device ready", Deadline(kStartDeadline), &d.cursor);
  EXPECT_TRUE(line) << "device: " << d.process->StatusText() << ": " << d.process->StderrTail(3);
  if (!line) return d;
  auto s = demo::Field(*line, "socks");
  auto sp = s ? demo::ParseHostPort(*s) : std::nullopt;
  EXPECT_TRUE(sp) << *line;
  if (sp) d.socks = *sp;
  return d;
}

std::string E2eTest::WaitSessionUp(Device& d, std::chrono::seconds within) {
  if (!d.process) return "";
  auto line = d.process->WaitLine("device session up", Deadline(within), &d.cursor);
  EXPECT_TRUE(line) << "no session came up: " << d.process->StatusText() << ": " << d.process->StderrTail(3);
  return line.value_or("");
}

std::string E2eTest::FetchHello(const Device& d, const std::string& host) {
  auto c = demo::Connection::ViaSocks5(d.socks, host, http_port(), Deadline());
  if (!c) return c.error();
  auto r = demo::HttpGet(*c, host, "/hello", Deadline());
  if (!r) return r.error();
  if (r->status != 200 || r->body != "hello from the internal server\n") {
    return fmt::format("unexpected response {} {:?}", r->status, r->body);
  }
  return "";
}

}  // namespace strait::e2e
