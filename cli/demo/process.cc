#include "cli/demo/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <deque>

#include <fmt/format.h>

#include "runtime/address_text.h"

namespace strait::demo {

std::atomic<bool>& InterruptFlag() {
  static std::atomic<bool> flag{false};
  return flag;
}

namespace {
// Waits in slices so an interrupt is noticed promptly.
constexpr std::chrono::milliseconds kSlice{100};
}  // namespace

std::unique_ptr<ChildProcess> ChildProcess::Start(std::string name, const std::string& exe,
                                                  const std::vector<std::string>& args,
                                                  const std::string& stderr_path, std::string* error,
                                                  const ChildOptions& options) {
  std::unique_ptr<ChildProcess> c(new ChildProcess());
  c->name_ = std::move(name);
  c->stderr_path_ = stderr_path;
  c->max_line_bytes_ = options.max_line_bytes;
  // Everything the child needs is prepared before fork: only async-signal-safe calls happen in between.
  std::vector<std::string> storage;
  storage.reserve(args.size() + 1);
  storage.push_back(exe);
  for (const auto& a : args) storage.push_back(a);
  std::vector<char*> argv;
  for (auto& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);

  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    *error = fmt::format("{}: pipe: {}", c->name_, std::strerror(errno));
    return nullptr;
  }
  int in[2] = {-1, -1};
  if (options.stdin_pipe && ::pipe2(in, O_CLOEXEC) != 0) {
    *error = fmt::format("{}: pipe: {}", c->name_, std::strerror(errno));
    ::close(out[0]);
    ::close(out[1]);
    return nullptr;
  }
  auto close_pipes = [&] {
    for (int fd : {out[0], out[1], in[0], in[1]}) {
      if (fd >= 0) ::close(fd);
    }
  };
  const int err_fd = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (err_fd < 0) {
    *error = fmt::format("{}: {}: {}", c->name_, stderr_path, std::strerror(errno));
    close_pipes();
    return nullptr;
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    *error = fmt::format("{}: fork: {}", c->name_, std::strerror(errno));
    close_pipes();
    ::close(err_fd);
    return nullptr;
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl
    const int devnull = in[0] >= 0 ? in[0] : ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(out[1], 1);
    ::dup2(err_fd, 2);
    // Restore default signal dispositions the parent may have changed.
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
    ::signal(SIGPIPE, SIG_DFL);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err_fd);
  if (in[0] >= 0) ::close(in[0]);
  c->stdin_fd_ = in[1];
  c->pid_ = pid;
  c->reader_ = std::thread([p = c.get(), fd = out[0]] { p->ReaderMain(fd); });
  return c;
}

void ChildProcess::ReaderMain(int fd) {
  std::string partial;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    partial.append(buf, static_cast<std::size_t>(n));
    std::size_t start = 0;
    std::vector<std::string> fresh;
    for (std::size_t nl; (nl = partial.find('\n', start)) != std::string::npos; start = nl + 1) {
      fresh.emplace_back(partial, start, nl - start);
    }
    partial.erase(0, start);
    if (!fresh.empty()) {
      const Clock::time_point now = Clock::now();
      std::lock_guard lock(mu_);
      for (auto& l : fresh) {
        lines_.push_back(std::move(l));
        arrivals_.push_back(now);
      }
      cv_.notify_all();
    }
    if (partial.size() > max_line_bytes_) partial.clear();  // a line that long is noise, not a ready line
  }
  ::close(fd);
  {
    std::lock_guard lock(mu_);
    if (!partial.empty()) {
      lines_.push_back(partial);
      arrivals_.push_back(Clock::now());
    }
    eof_ = true;
    cv_.notify_all();
  }
  int st = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &st, 0);
  } while (r < 0 && errno == EINTR);
  std::lock_guard lock(mu_);
  status_ = r == pid_ ? st : -1;
  cv_.notify_all();
}

std::optional<std::string> ChildProcess::NextLine(std::size_t* cursor) const {
  std::lock_guard lock(mu_);
  if (*cursor >= lines_.size()) return std::nullopt;
  return lines_[(*cursor)++];
}

bool ChildProcess::WriteStdin(std::string_view text) {
  while (!text.empty() && stdin_fd_ >= 0) {
    const ssize_t n = ::write(stdin_fd_, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return text.empty();
}

void ChildProcess::CloseStdin() {
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
  stdin_fd_ = -1;
}

ChildProcess::~ChildProcess() {
  CloseStdin();
  if (pid_ > 0 && !exited()) {
    ::kill(pid_, SIGKILL);
    killed_ = true;
  }
  if (reader_.joinable()) reader_.join();
}

std::optional<std::string> ChildProcess::WaitLine(std::string_view prefix, Clock::time_point deadline,
                                                  std::size_t* cursor) {
  std::size_t from = cursor ? *cursor : 0;
  std::unique_lock lock(mu_);
  for (;;) {
    for (; from < lines_.size(); ++from) {
      if (std::string_view(lines_[from]).starts_with(prefix)) {
        if (cursor) *cursor = from + 1;
        return lines_[from];
      }
    }
    if (cursor) *cursor = from;
    if (eof_ || Interrupted() || Clock::now() >= deadline) return std::nullopt;
    cv_.wait_until(lock, std::min(deadline, Clock::now() + kSlice));
  }
}

bool ChildProcess::WaitExit(Clock::time_point deadline) {
  std::unique_lock lock(mu_);
  while (!status_) {
    if (Clock::now() >= deadline) return false;
    cv_.wait_until(lock, std::min(deadline, Clock::now() + kSlice));
  }
  return true;
}

void ChildProcess::Signal(int sig) {
  if (pid_ > 0 && !exited()) ::kill(pid_, sig);
}

std::string ChildProcess::Stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return StatusText();
  if (!exited()) {
    ::kill(pid_, SIGTERM);
    if (!WaitExit(Clock::now() + grace)) {
      ::kill(pid_, SIGKILL);
      killed_ = true;
      WaitExit(Clock::now() + std::chrono::seconds(10));
    }
  }
  return StatusText();
}

bool ChildProcess::exited() const {
  std::lock_guard lock(mu_);
  return status_.has_value();
}

std::optional<int> ChildProcess::wait_status() const {
  std::lock_guard lock(mu_);
  return status_;
}

bool ChildProcess::ExitedCleanly() const {
  auto st = wait_status();
  return st && *st >= 0 && WIFEXITED(*st) && WEXITSTATUS(*st) == 0;
}

std::string ChildProcess::StatusText() const {
  auto st = wait_status();
  if (!st) return "running";
  if (*st < 0) return "unknown (waitpid failed)";
  if (WIFEXITED(*st)) return fmt::format("exit {}", WEXITSTATUS(*st));
  if (WIFSIGNALED(*st)) {
    const int sig = WTERMSIG(*st);
    const char* abbrev = sigabbrev_np(sig);
    return fmt::format("killed by signal {} (SIG{})", sig, abbrev ? abbrev : "?");
  }
  return fmt::format("status {:#x}", *st);
}

std::vector<std::string> ChildProcess::Lines() const {
  std::lock_guard lock(mu_);
  return lines_;
}

std::optional<Clock::time_point> ChildProcess::Arrival(std::size_t index) const {
  std::lock_guard lock(mu_);
  if (index >= arrivals_.size()) return std::nullopt;
  return arrivals_[index];
}

std::string ChildProcess::StderrTail(std::size_t n) const {
  std::ifstream in(stderr_path_);
  std::deque<std::string> tail;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    tail.push_back(line);
    if (tail.size() > n) tail.pop_front();
  }
  std::string out;
  for (const auto& l : tail) {
    if (!out.empty()) out += " | ";
    out += l;
  }
  return out.empty() ? std::string("(no stderr output)") : out;
}

std::optional<std::string> Field(std::string_view line, std::string_view key) {
  std::size_t pos = 0;
  while (pos < line.size()) {
    std::size_t end = line.find(' ', pos);
    if (end == std::string_view::npos) end = line.size();
    std::string_view tok = line.substr(pos, end - pos);
    if (tok.size() > key.size() && tok.starts_with(key) && tok[key.size()] == '=') {
      return std::string(tok.substr(key.size() + 1));
    }
    pos = end + 1;
  }
  return std::nullopt;
}

std::optional<HostPort> ParseHostPort(std::string_view text) {
  const auto hp = runtime::SplitHostPort(text);
  if (!hp || hp->port == 0 || text.starts_with(':')) return std::nullopt;
  return HostPort{std::string(hp->host), hp->port};
}

uint16_t PickFreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

}  // namespace strait::demo
