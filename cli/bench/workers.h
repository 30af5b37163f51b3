// Worker processes: a device fleet spread over child processes of this binary (`strait bench worker`, hidden), for
// populations larger than one process holds (the machine's cap on open files; docs/bench.md §2 "Populations beyond
// one process"). The parent and its workers speak bench/suite/worker_protocol.h over pipes: NDJSON events on each
// worker's stdout, one-word commands on its stdin.
//
// Each worker builds the credentials of its own slice (a local deployment's directory: DeviceIssuer from the first
// index the parent reserved; a remote --identity: its bundles), says "ready", and waits for "go", so that every
// worker's load starts together and the credentials' cost stays out of the relay's figures. The parent then does
// what RunFleet's callbacks say, across the workers:
//   kHold       every worker "up": on_all_up; `hold` later on_hold_end, then "release" (the workers close)
//   kStorm      nothing in between
//   kReconnect  every worker "up"; `hold` later "release": each worker drops its links (abort), or, with `drop`
//               (--how restart), says "drop" and waits; once all wait, the parent calls drop() and says "dropped"
// and merges the results (MergeFleetResults). A worker that ends early (its links did not come up) gets the others
// released, so the run ends with its error; Ctrl-C (the stop flag) is passed on as SIGINT and the partial results
// are still merged.
//
// Bounds: at most kMaxWorkers workers; a line at most kMaxWorkerLineBytes; each worker's progress lines (one a
// second) are kept for the run, about 150 bytes each; a worker silent for longer than `timeout` + 30 s, or one that
// exits without a result, fails the run. Workers never outlive the parent (PR_SET_PDEATHSIG, and end-of-file on
// their stdin stops them).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench/suite/load/device_fleet.h"
#include "crypto/result.h"

namespace strait::cli::bench {

inline constexpr std::uint32_t kMaxWorkers = 64;
inline constexpr std::uint32_t kMaxLinksPerWorker = 15'000;

// What a worker logs in with, besides its slice.
struct WorkerTarget {
  std::string relay;           // HOST:PORT as given (its host names the relay's TLS certificate for a remote run)
  std::string deployment_dir;  // local: the deployment's directory (credentials issued from its tenant key)
  std::string identity;        // remote: --identity
  std::uint32_t bundles = 0;   // remote: bundles dev-0 .. in `identity` (0: `identity` is one bundle)
};

// Runs `o` over `workers` (2..kMaxWorkers) worker processes, worker k taking devices first + [k*n/W, (k+1)*n/W) of
// n = o.devices, o.parallel shared out the same way. o's callbacks run on this thread, as described above;
// on_progress gets the workers' sums once a second.
Result<strait::bench::FleetResult, std::string> RunFleetInWorkers(const strait::bench::FleetOptions& o,
                                                                  std::uint32_t workers, std::uint32_t first,
                                                                  const WorkerTarget& target);

// `strait bench worker`: its flags (hidden from --help) and its main.
struct WorkerArgs {
  std::string mode;  // hold | storm | reconnect
  WorkerTarget target;
  std::uint32_t first = 0;
  std::uint32_t count = 0;
  std::vector<std::string> sources;  // ADDRESS:0 each
  std::uint32_t parallel = 64;
  std::uint32_t timeout = 60;
  bool restart = false;  // reconnect: the parent restarts the relay ("drop" / "dropped")
};
CLI::App* AddWorkerCommand(CLI::App& bench, WorkerArgs& args);
int RunWorker(const WorkerArgs& args);

}  // namespace strait::cli::bench
