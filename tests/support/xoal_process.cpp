#include "support/xoal_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>

namespace xoal::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::string MakeTempDir() {
  std::string templ = "/tmp/xoal-it-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp failed: " << std::strerror(errno);
    return {};
  }
  return templ;
}

// Closes every fd from 3 up, in the child, so sockets of other test threads do not leak into it.
void CloseInheritedFds() {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, 3U, ~0U, 0U) == 0) {
    return;
  }
#endif
  long max_fd = sysconf(_SC_OPEN_MAX);
  for (long fd = 3; fd < max_fd; ++fd) {
    close(static_cast<int>(fd));
  }
}

int ExitCodeOf(int wait_status) {
  if (WIFEXITED(wait_status)) {
    return WEXITSTATUS(wait_status);
  }
  if (WIFSIGNALED(wait_status)) {
    return 128 + WTERMSIG(wait_status);
  }
  return -1;
}

struct Spawned {
  pid_t pid = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;  // -1 when stderr went to `stderr_file`
  std::string error;
};

// Forks and execs `argv`. The child's stdout is a pipe; its stderr goes to a pipe, or is
// appended to `stderr_file` when that is not empty. Only async-signal-safe calls run in the
// child between fork and exec, because the test process has other threads.
Spawned Spawn(const std::vector<std::string>& argv, const std::string& stderr_file) {
  Spawned s;
  int out_pipe[2];
  int err_pipe[2] = {-1, -1};
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    s.error = std::string("pipe: ") + std::strerror(errno);
    return s;
  }
  int err_fd = -1;
  if (stderr_file.empty()) {
    if (pipe2(err_pipe, O_CLOEXEC) != 0) {
      s.error = std::string("pipe: ") + std::strerror(errno);
      close(out_pipe[0]);
      close(out_pipe[1]);
      return s;
    }
    err_fd = err_pipe[1];
  } else {
    err_fd = open(stderr_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  }
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (err_fd < 0 || null_fd < 0) {
    s.error = std::string("open: ") + std::strerror(errno);
    return s;
  }

  std::vector<char*> args;
  for (const auto& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  pid_t parent = getpid();

  pid_t pid = fork();
  if (pid == 0) {
    // The server must not outlive a crashed or killed test run.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) {
      _exit(127);
    }
    dup2(null_fd, 0);
    dup2(out_pipe[1], 1);
    dup2(err_fd, 2);
    CloseInheritedFds();
    execv(args[0], args.data());
    _exit(127);
  }

  close(out_pipe[1]);
  close(null_fd);
  if (stderr_file.empty()) {
    close(err_pipe[1]);
  } else {
    close(err_fd);
  }
  if (pid < 0) {
    s.error = std::string("fork: ") + std::strerror(errno);
    close(out_pipe[0]);
    if (err_pipe[0] >= 0) {
      close(err_pipe[0]);
    }
    return s;
  }
  s.pid = pid;
  s.stdout_fd = out_pipe[0];
  s.stderr_fd = err_pipe[0];
  return s;
}

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

}  // namespace

uint16_t ParseListeningLine(std::string_view line) {
  constexpr std::string_view kPrefix = "listening address=";
  size_t at = line.find(kPrefix);
  if (at == std::string_view::npos) {
    return 0;
  }
  std::string_view address = line.substr(at + kPrefix.size());
  address = address.substr(0, address.find_first_of(" \t\r\n"));
  size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) {
    return 0;
  }
  unsigned long port = 0;
  std::string_view digits = address.substr(colon + 1);
  if (digits.empty() || digits.size() > 5) {
    return 0;
  }
  for (char c : digits) {
    if (c < '0' || c > '9') {
      return 0;
    }
    port = port * 10 + static_cast<unsigned long>(c - '0');
  }
  return port > 0 && port <= 65535 ? static_cast<uint16_t>(port) : 0;
}

XoalProcess::XoalProcess(std::string binary)
    : binary_(std::move(binary)), data_dir_(MakeTempDir()) {}

XoalProcess::~XoalProcess() {
  Kill();
  const char* keep = std::getenv("XOAL_TEST_KEEP_DATA");
  if (!data_dir_.empty() && (keep == nullptr || std::string(keep) != "1")) {
    std::error_code ec;
    std::filesystem::remove_all(data_dir_, ec);
  }
}

::testing::AssertionResult XoalProcess::Start() {
  if (running()) {
    return ::testing::AssertionFailure() << "Start() while already running";
  }
  {
    std::ofstream log(stderr_path(), std::ios::app);
    log << "==== xoal serve starting (test harness) ====\n";
  }
  std::vector<std::string> argv{binary_, "serve", "--data-dir", data_dir_, "--listen",
                                "127.0.0.1:0"};
  argv.insert(argv.end(), serve_flags_.begin(), serve_flags_.end());
  Spawned s = Spawn(argv, stderr_path());
  if (s.pid < 0) {
    return ::testing::AssertionFailure() << "could not start " << binary_ << ": " << s.error;
  }
  pid_ = s.pid;
  stdout_fd_ = s.stdout_fd;
  startup_output_.clear();
  port_ = 0;

  // Read stdout line by line until the listening line, EOF (the child died) or the deadline.
  auto deadline = Clock::now() + kStartTimeout;
  std::string pending;
  bool eof = false;
  while (port_ == 0 && !eof && Clock::now() < deadline) {
    pollfd pfd{stdout_fd_, POLLIN, 0};
    int n = poll(&pfd, 1, RemainingMs(deadline));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    char buf[4096];
    ssize_t got = read(stdout_fd_, buf, sizeof buf);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got <= 0) {
      eof = true;
      break;
    }
    pending.append(buf, static_cast<size_t>(got));
    size_t nl;
    while (port_ == 0 && (nl = pending.find('\n')) != std::string::npos) {
      std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      port_ = ParseListeningLine(line);
      if (port_ == 0) {
        startup_output_ += line + "\n";
      }
    }
  }

  if (port_ != 0) {
    StartDrainThread();
    return ::testing::AssertionSuccess();
  }
  bool timed_out = false;
  int status = WaitForExit(pid_, std::chrono::milliseconds(0), timed_out);
  pid_ = -1;
  close(stdout_fd_);
  stdout_fd_ = -1;
  return ::testing::AssertionFailure()
         << "xoal serve did not print its listening line "
         << (eof ? "before exiting" : "within the start timeout") << " (exit code "
         << ExitCodeOf(status) << ")\nstdout so far:\n"
         << startup_output_ << pending << "\nstderr tail:\n"
         << StderrTail();
}

int XoalProcess::Stop() {
  if (!running()) {
    return -1;
  }
  kill(pid_, SIGTERM);
  bool timed_out = false;
  int status = WaitForExit(pid_, kStopTimeout, timed_out);
  pid_ = -1;
  JoinDrainThread();
  if (timed_out) {
    ADD_FAILURE() << "xoal did not exit within " << kStopTimeout.count()
                  << " s of SIGTERM; killed it. stderr tail:\n"
                  << StderrTail();
  }
  return ExitCodeOf(status);
}

void XoalProcess::Kill() {
  if (!running()) {
    return;
  }
  kill(pid_, SIGKILL);
  bool timed_out = false;
  WaitForExit(pid_, kStopTimeout, timed_out);
  pid_ = -1;
  JoinDrainThread();
}

::testing::AssertionResult XoalProcess::Restart() {
  int code = Stop();
  if (code != 0) {
    return ::testing::AssertionFailure()
           << "xoal exited with " << code << " on SIGTERM; stderr tail:\n"
           << StderrTail();
  }
  return Start();
}

int XoalProcess::WaitForExit(pid_t pid, std::chrono::milliseconds timeout, bool& timed_out) {
  auto waiter = std::async(std::launch::async, [pid] {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
      if (errno != EINTR) {
        return -1;
      }
    }
    return status;
  });
  timed_out = false;
  if (waiter.wait_for(timeout) == std::future_status::timeout) {
    timed_out = true;
    kill(pid, SIGKILL);
  }
  return waiter.get();
}

void XoalProcess::StartDrainThread() {
  int fd = stdout_fd_;
  stdout_fd_ = -1;
  // Blocking reads end at EOF, which comes when the child exits (or is killed).
  drain_thread_ = std::thread([fd] {
    char buf[4096];
    while (true) {
      ssize_t got = read(fd, buf, sizeof buf);
      if (got < 0 && errno == EINTR) {
        continue;
      }
      if (got <= 0) {
        break;
      }
    }
    close(fd);
  });
}

void XoalProcess::JoinDrainThread() {
  if (drain_thread_.joinable()) {
    drain_thread_.join();
  }
  if (stdout_fd_ >= 0) {
    close(stdout_fd_);
    stdout_fd_ = -1;
  }
}

CliResult XoalProcess::RunCli(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{binary_};
  argv.insert(argv.end(), args.begin(), args.end());
  CliResult result;
  Spawned s = Spawn(argv, "");
  if (s.pid < 0) {
    result.err = s.error;
    return result;
  }

  // Read both pipes until both close, so neither can fill up and block the child.
  auto deadline = Clock::now() + kCliTimeout;
  pollfd fds[2] = {{s.stdout_fd, POLLIN, 0}, {s.stderr_fd, POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  while (open_fds > 0 && Clock::now() < deadline) {
    int n = poll(fds, 2, RemainingMs(deadline));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) {
        continue;
      }
      char buf[4096];
      ssize_t got = read(fds[i].fd, buf, sizeof buf);
      if (got < 0 && errno == EINTR) {
        continue;
      }
      if (got <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        sinks[i]->append(buf, static_cast<size_t>(got));
      }
    }
  }
  bool timed_out = false;
  int status =
      WaitForExit(s.pid, open_fds > 0 ? std::chrono::milliseconds(0) : kCliTimeout, timed_out);
  for (const pollfd& p : fds) {
    if (p.fd >= 0) {
      close(p.fd);
    }
  }
  result.exit_code = ExitCodeOf(status);
  if (timed_out) {
    result.err += "\n[test harness: killed after the CLI timeout]";
  }
  return result;
}

ProjectKeys XoalProcess::CreateProject(const std::string& name) const {
  CliResult r = RunCli({"project", "create", name, "--json", "--data-dir", data_dir_});
  ProjectKeys keys;
  if (r.exit_code != 0) {
    ADD_FAILURE() << "xoal project create exited " << r.exit_code << "\nstdout: " << r.out
                  << "\nstderr: " << r.err;
    return keys;
  }
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(r.out, ec);
  if (ec || !v.is_object()) {
    ADD_FAILURE() << "xoal project create --json printed no JSON object: " << r.out;
    return keys;
  }
  const auto& obj = v.get_object();
  for (auto [field, out] :
       {std::pair{"project_id", &keys.project_id}, std::pair{"ingestion_key", &keys.ingestion_key},
        std::pair{"management_key", &keys.management_key}}) {
    const auto* value = obj.if_contains(field);
    if (value == nullptr || !value->is_string()) {
      ADD_FAILURE() << "xoal project create --json lacks string \"" << field << "\": " << r.out;
      return ProjectKeys{};
    }
    *out = std::string(value->get_string());
  }
  return keys;
}

std::string XoalProcess::StderrTail(size_t max_bytes) const {
  std::ifstream in(stderr_path(), std::ios::binary);
  if (!in) {
    return "(no stderr log at " + stderr_path() + ")";
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string all = ss.str();
  if (all.size() > max_bytes) {
    return "..." + all.substr(all.size() - max_bytes);
  }
  return all;
}

}  // namespace xoal::testing
