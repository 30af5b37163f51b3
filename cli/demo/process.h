// Child processes for `strait demo` and the cross-process tests (tests/e2e/): fork + exec with stdout on a pipe
// that a reader thread splits into lines (so callers wait for "relay ready ..." lines without sleeping), stderr to
// a file (its tail goes into failure messages), and PR_SET_PDEATHSIG so a child never outlives a crashed parent.
//
// Stopping: SIGTERM, then SIGKILL once `grace` has passed; the reader thread reaps the child (waitpid) when its
// stdout closes, so every wait is on an event with a deadline, never a sleep.
//
// Thread-safety: a ChildProcess is owned by one thread; its reader thread shares only the state behind mu_.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace strait::demo {

using Clock = std::chrono::steady_clock;

// Process-wide interrupt flag (set from a SIGINT/SIGTERM handler by the demo): every wait here and in
// client.h gives up early once it is set. Async-signal-safe to set.
std::atomic<bool>& InterruptFlag();
inline bool Interrupted() { return InterruptFlag().load(std::memory_order_relaxed); }

struct ChildOptions {
  bool stdin_pipe = false;             // the child's stdin is a pipe the parent writes (WriteStdin); else /dev/null
  std::size_t max_line_bytes = 65536;  // a longer stdout line is noise: dropped
};

class ChildProcess {
 public:
  // Starts `exe` with `args` (argv[1..]). stdout is captured line by line; stderr goes to `stderr_path`
  // (truncated). On failure returns nullptr and sets *error.
  static std::unique_ptr<ChildProcess> Start(std::string name, const std::string& exe,
                                             const std::vector<std::string>& args, const std::string& stderr_path,
                                             std::string* error, const ChildOptions& options = {});
  // Kills (SIGKILL) a child that is still running, reaps it and joins the reader.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Waits for a stdout line that starts with `prefix`, scanning from line index *cursor (0 if null) and, on
  // success, leaving *cursor just past the line found. nullopt when the deadline passes, the child's stdout
  // closes (it exited) or Interrupted().
  std::optional<std::string> WaitLine(std::string_view prefix, Clock::time_point deadline,
                                      std::size_t* cursor = nullptr);
  // The stdout line at *cursor if it has been read (and advances *cursor), without waiting, interrupted or not.
  std::optional<std::string> NextLine(std::size_t* cursor) const;
  // With ChildOptions::stdin_pipe: writes all of `text` to the child's stdin (false: it closed its end, or no
  // pipe). The caller ignores SIGPIPE. CloseStdin: the child reads end-of-file.
  bool WriteStdin(std::string_view text);
  void CloseStdin();
  // Waits until the child has exited (true) or the deadline passed (false).
  bool WaitExit(Clock::time_point deadline);
  // SIGTERM, up to `grace` for the exit, then SIGKILL and a bounded wait. Idempotent. Returns StatusText().
  std::string Stop(std::chrono::milliseconds grace);
  void Signal(int sig);

  const std::string& name() const { return name_; }
  pid_t pid() const { return pid_; }
  bool exited() const;
  std::optional<int> wait_status() const;  // raw waitpid status once exited
  bool ExitedCleanly() const;              // exited with status 0
  // "exit 0", "exit 1", "killed by signal 9 (SIGKILL)", "running".
  std::string StatusText() const;
  std::vector<std::string> Lines() const;
  // When stdout line `index` was read (its chunk's arrival: a timestamp for latency figures that does not depend on
  // when the caller got round to WaitLine). nullopt for a line not read yet.
  std::optional<Clock::time_point> Arrival(std::size_t index) const;
  // The last `n` lines of the child's stderr file, joined with " | " (for one-line error messages).
  std::string StderrTail(std::size_t n) const;
  // Whether the parent sent SIGKILL (the child ignored SIGTERM for `grace`).
  bool was_killed() const { return killed_; }

 private:
  ChildProcess() = default;
  void ReaderMain(int fd);

  std::string name_;
  std::string stderr_path_;
  pid_t pid_ = -1;
  int stdin_fd_ = -1;  // the write end of the child's stdin (ChildOptions::stdin_pipe)
  std::size_t max_line_bytes_ = 65536;
  bool killed_ = false;
  std::thread reader_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;        // guarded by mu_
  std::vector<Clock::time_point> arrivals_;  // guarded by mu_: one per line
  bool eof_ = false;                      // guarded by mu_: stdout closed
  std::optional<int> status_;             // guarded by mu_: set once reaped
};

// "key=value" field of a ready line: Field("relay ready device=1.2.3.4:5 x=y", "device") == "1.2.3.4:5".
std::optional<std::string> Field(std::string_view line, std::string_view key);

// Splits "HOST:PORT" / "[V6]:PORT". nullopt on a malformed port.
struct HostPort {
  std::string host;
  uint16_t port = 0;
};
std::optional<HostPort> ParseHostPort(std::string_view text);

// A port that was free a moment ago on 127.0.0.1 (for children that cannot report a port-0 bind). 0 on failure.
uint16_t PickFreePort();

}  // namespace strait::demo
