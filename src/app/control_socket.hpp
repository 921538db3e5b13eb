// The control socket: a Unix domain socket in the data directory through which CLI commands tell
// a running `serve` about changes they made behind its back (a key revoked), so the change holds
// before the command returns. Only processes that can open the data directory can reach it.
//
// The protocol is one command line per connection ("reload-keys\n") and one answer line.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "common/status.hpp"

namespace xoal::app {

class ControlServer {
 public:
  // `handle` gets a command without its newline and returns the answer; it runs on the
  // socket's own thread.
  using Handler = std::function<std::string(const std::string& command)>;

  ControlServer() = default;
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Binds `path` (replacing a stale socket file) and starts answering on a thread.
  // kUnavailable when the path is too long for a Unix socket or cannot be bound.
  Status Start(const std::filesystem::path& path, Handler handle);
  // Stops answering and removes the socket file. Safe to call more than once.
  void Stop();

 private:
  void Run();

  std::filesystem::path path_;
  Handler handle_;
  int listen_fd_ = -1;
  int wake_fd_[2] = {-1, -1};  // a pipe; a byte on it ends Run()
  std::thread thread_;
};

// Sends `command` to the server listening on `path` and returns its answer, or nullopt when no
// server answers (none running). Waits at most a few seconds.
std::optional<std::string> SendControl(const std::filesystem::path& path,
                                       const std::string& command);

}  // namespace xoal::app
