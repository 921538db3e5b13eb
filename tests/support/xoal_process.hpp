// XoalProcess: runs the real `xoal` binary for a test, on its own fresh data dir.
//
// The constructor makes a temp dir (mkdtemp under /tmp) that serves as `--data-dir`; the
// destructor kills a still-running server and removes the dir (set XOAL_TEST_KEEP_DATA=1 to keep
// it for a post-mortem). `serve` listens on 127.0.0.1 port 0; Start() reads the child's stdout
// until the line `listening address=127.0.0.1:PORT` and learns the port from it. The child's
// stderr (its log) is appended to `<data dir>/xoal.stderr.log`; StderrTail() reads it back.
//
// Every wait is bounded (Start, Stop, CLI runs), so a hung or crashed binary fails the test with
// its log tail instead of hanging the suite. Children get SIGKILL if the test process dies.
//
// Not thread-safe: call it from the test's main thread. CLI runs may overlap a running server.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace xoal::testing {

// What a finished CLI command left behind.
struct CliResult {
  int exit_code = -1;  // the exit status; 128 + signal when killed by a signal
  std::string out;     // everything it printed on stdout
  std::string err;     // everything it printed on stderr
};

// What `xoal project create NAME --json` prints.
struct ProjectKeys {
  std::string project_id;
  std::string ingestion_key;
  std::string management_key;
};

class XoalProcess {
 public:
  static constexpr std::chrono::seconds kStartTimeout{30};
  static constexpr std::chrono::seconds kStopTimeout{30};
  static constexpr std::chrono::seconds kCliTimeout{60};

  // `binary` is the path of the built `xoal` executable (tests pass XOAL_BINARY).
  explicit XoalProcess(std::string binary);
  ~XoalProcess();
  XoalProcess(const XoalProcess&) = delete;
  XoalProcess& operator=(const XoalProcess&) = delete;

  // Starts `xoal serve --data-dir DIR --listen 127.0.0.1:0` and waits (at most kStartTimeout)
  // for its listening line. Fails, with the log tail in the message, if the child exits first or
  // the time runs out (the child is then killed). Requires: not running.
  [[nodiscard]] ::testing::AssertionResult Start();

  // Sends SIGTERM and waits for the exit (at most kStopTimeout, then SIGKILL and a test
  // failure). Returns the exit status, 128 + signal when a signal ended it, or -1 when not running.
  int Stop();

  // Sends SIGKILL and reaps the child, as a crash would end it. No-op when not running.
  void Kill();

  // Extra arguments appended to `serve` by every later Start() and Restart() (e.g.
  // {"--test-clock"}); none by default.
  void set_serve_flags(std::vector<std::string> flags) { serve_flags_ = std::move(flags); }

  // Stop() (expecting exit code 0) and Start() on the same data dir; the port changes.
  [[nodiscard]] ::testing::AssertionResult Restart();

  bool running() const { return pid_ > 0; }
  // The port of the running server (of the last one after a stop).
  uint16_t port() const { return port_; }
  const std::string& data_dir() const { return data_dir_; }
  // What the server printed on stdout before its listening line (e.g. the first project's keys).
  const std::string& startup_output() const { return startup_output_; }

  // Runs `xoal ARGS...` to completion (at most kCliTimeout, then SIGKILL) and captures it. The
  // arguments are passed as given: add `--data-dir`, data_dir() yourself.
  CliResult RunCli(const std::vector<std::string>& args) const;

  // `xoal project create NAME --json --data-dir DIR`. On any failure it records a test failure
  // (with the command's output) and returns empty strings.
  ProjectKeys CreateProject(const std::string& name) const;

  // The last `max_bytes` of the child's stderr log, all starts included.
  std::string StderrTail(size_t max_bytes = 4000) const;
  std::string stderr_path() const { return data_dir_ + "/xoal.stderr.log"; }

 private:
  // Waits for `pid` to exit for at most `timeout`, then SIGKILLs it. Returns the wait status and
  // sets `timed_out` when the kill was needed.
  static int WaitForExit(pid_t pid, std::chrono::milliseconds timeout, bool& timed_out);
  void StartDrainThread();
  void JoinDrainThread();

  std::string binary_;
  std::string data_dir_;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;  // read end of the child's stdout pipe, owned by the drain thread once up
  uint16_t port_ = 0;
  std::string startup_output_;
  std::vector<std::string> serve_flags_;
  std::thread drain_thread_;  // keeps reading stdout so the child never blocks writing it
};

// Extracts the port from a line `listening address=HOST:PORT`; 0 when the line is not one.
uint16_t ParseListeningLine(std::string_view line);

}  // namespace xoal::testing
