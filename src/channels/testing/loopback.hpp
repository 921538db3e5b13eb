// Plumbing of the loopback fakes: a TCP server on 127.0.0.1 with a kernel-chosen port that serves
// one connection at a time on its own thread, and a connection with bounded, stoppable reads.
// Test support only.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

#include "common/status.hpp"

namespace xoal::channels::testing {

// A connection accepted by LoopbackServer. Every read gives up after kIdleLimit without data, or
// as soon as the server stops, so a silent client never hangs a test.
class Connection {
 public:
  static constexpr std::chrono::milliseconds kIdleLimit{10000};

  Connection(int fd, const std::atomic<bool>& stop) : fd_(fd), stop_(stop) {}
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Reads one line and strips its CRLF (or LF). False on close, error, stop or idle timeout.
  bool ReadLine(std::string& line);
  // Reads exactly `n` bytes.
  bool ReadBytes(size_t n, std::string& out);
  bool Write(std::string_view data);
  // Waits up to `limit` for the peer to hang up; true when it did (or the server stopped).
  bool WaitForPeerClose(std::chrono::milliseconds limit);

 private:
  // Reads more bytes into buf_, waiting at most kIdleLimit.
  bool Fill();

  int fd_;
  const std::atomic<bool>& stop_;
  std::string buf_;
};

class LoopbackServer {
 public:
  using Handler = std::function<void(Connection&)>;

  LoopbackServer() = default;
  ~LoopbackServer() { Stop(); }
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  // Listens on `host`:`port` (an IPv4 address; port 0: the kernel picks one) and serves each
  // accepted connection with `handler`, one at a time. Errors: kInternal when the socket cannot
  // be bound.
  Status Start(Handler handler, std::string_view host = "127.0.0.1", uint16_t port = 0);
  uint16_t port() const { return port_; }
  // Stops accepting, ends the connection in progress at its next read, and joins the thread.
  void Stop();

 private:
  void Run();

  Handler handler_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A loopback port with nothing listening on it (bound, then closed), for "connection refused".
uint16_t ClosedLoopbackPort();

}  // namespace xoal::channels::testing
