// The messages between `strait bench` and its worker processes (`strait bench worker`, cli/bench/workers.h;
// docs/bench.md §2 "Populations beyond one process"). Sans-I/O: the codec and nothing else, fuzzed by
// fuzz/worker_protocol_fuzzer.cc.
//
// A worker writes one JSON object a line on its stdout, each with "event":
//   {"event":"ready"}                          its credentials are ready; it waits for "go"
//   {"event":"progress", <FleetProgress>}     once a second while its fleet runs
//   {"event":"up"}                             every link of its slice is up (idle, reconnect); it holds them
//   {"event":"drop"}                           reconnect --how restart: it waits for "dropped" (the relay restart)
//   {"event":"result", <FleetResult>}          its fleet ended (complete, stopped or failed); the last line
//   {"event":"error","message":"..."}          it could not run (bad spec, no credential); the last line
// The parent writes one word a line on the worker's stdin: "go", "release" (end the hold), "dropped" (the relay
// is back). The parent closing the pipe stops the worker.
//
// The reader is strict (an unknown key or event is an error) and bounded: a line is at most kMaxWorkerLineBytes,
// JSON depth at most 8, the histograms and the timeline at most their own bounds (results.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "bench/suite/fleet_result.h"
#include "crypto/result.h"

namespace strait::bench {

inline constexpr std::size_t kMaxWorkerLineBytes = 1 << 20;  // two full histograms and an hour's timeline fit
inline constexpr std::size_t kMaxWorkerTextBytes = 1024;     // a phase, an error, a cipher name

enum class WorkerEventKind : std::uint8_t { kReady, kProgress, kUp, kDrop, kResult, kError };

struct WorkerEvent {
  WorkerEventKind kind = WorkerEventKind::kReady;
  FleetProgress progress;  // kProgress
  FleetResult result;      // kResult
  std::string message;     // kError
  bool operator==(const WorkerEvent&) const = default;
};

// One line, without its newline. Text longer than kMaxWorkerTextBytes is cut, and bytes that are not UTF-8 are
// replaced (U+FFFD), so the line is always valid JSON.
std::string EncodeWorkerEvent(const WorkerEvent& event);
// The line without its newline; an error names the problem ("/result/login_ns/count: ...").
Result<WorkerEvent, std::string> ParseWorkerEvent(std::string_view line);

}  // namespace strait::bench
