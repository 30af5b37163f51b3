// The adversarial suite's fixture (issue 7): the e2e harness (real `strait` processes on loopback, identities from
// `strait keys`) plus the hostile client `strait-adversary` (tests/testing/adversary/) as a child process, the
// daemons' Prometheus endpoints, a process's peak RSS, and credentials that expire within seconds.
//
// Every wait has a deadline; every child is stopped in TearDown (E2eTest owns them).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tests/e2e/e2e_harness.h"

namespace strait::e2e {

// What a probe or flood child printed as its summary: "<mode> key=value ...".
struct Summary {
  std::string line;
  std::uint64_t Num(const std::string& key) const;  // 0 when absent
  double Real(const std::string& key) const;
};

class AdversaryTest : public E2eTest {
 protected:
  // StartRelay, and the relay's metrics address from its ready line.
  Relay StartRelayWithMetrics(HostPort* metrics, int threads = 1);
  // StartConnector with --metrics-listen 127.0.0.1:0; the metrics address from its ready line.
  Connector StartConnectorWithMetrics(const std::string& identity, const std::vector<HostPort>& relays,
                                      bool direct_listen, HostPort* metrics);
  // `strait-adversary <args...>`; nullptr (and a test failure) if it does not start.
  ChildProcess* SpawnAdversary(const std::string& name, const std::vector<std::string>& args);
  // Waits for the child's "<mode> ready" line (the attack is in place).
  void WaitReady(ChildProcess* c, const std::string& mode, std::chrono::seconds within = std::chrono::seconds(30));
  // Waits for the child to exit and returns its summary line (the one starting with `mode` + " ").
  Summary WaitSummary(ChildProcess* c, const std::string& mode, std::chrono::seconds within);

  // GET /metrics; "" (and a test failure) on error.
  std::string Scrape(const HostPort& at);
  // The value of the sample whose name with labels is exactly `sample`; nullopt if absent.
  static std::optional<std::uint64_t> Sample(const std::string& metrics, const std::string& sample);

  // VmHWM (peak RSS) and VmRSS of a process, in KiB; 0 if unreadable.
  static std::uint64_t PeakRssKiB(pid_t pid);
  static std::uint64_t RssKiB(pid_t pid);

  // MakeIdentity, then its credential re-issued (same keys) to expire `seconds` from now. Returns the bundle dir.
  std::string MakeShortLivedIdentity(const std::string& role, const std::string& tenant, const std::string& subject,
                                     std::uint64_t seconds);

  // The last `n` lines a child wrote to stderr (its log), for assertions on what it logged.
  static std::string Log(const ChildProcess* c, std::size_t n = 400) { return c ? c->StderrTail(n) : ""; }
};

}  // namespace strait::e2e
