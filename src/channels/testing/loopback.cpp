#include "channels/testing/loopback.hpp"

#include <arpa/inet.h>
#include <fmt/core.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>

namespace xoal::channels::testing {
namespace {

constexpr int kPollStepMs = 50;  // how often a waiting thread looks at the stop flag

// Binds `host`:`port` (IPv4; port 0 lets the kernel choose) and sets `port` to the bound port.
int BindLoopback(std::string_view host, uint16_t& port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  if (::inet_pton(AF_INET, std::string(host).c_str(), &addr.sin_addr) != 1) return -1;
  addr.sin_port = htons(port);
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return -1;
  }
  port = ntohs(addr.sin_port);
  return fd;
}

// Polls `fd` for `events` in short steps until ready, `limit` passes or `stop` is set.
// Returns >0 when ready, 0 on timeout or stop, <0 on error.
int PollStoppable(int fd, short events, std::chrono::milliseconds limit,
                  const std::atomic<bool>& stop) {
  for (int64_t waited = 0; waited <= limit.count(); waited += kPollStepMs) {
    if (stop.load()) return 0;
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, kPollStepMs);
    if (r != 0) return r < 0 && errno == EINTR ? 0 : r;
  }
  return 0;
}

}  // namespace

Connection::~Connection() { ::close(fd_); }

bool Connection::Fill() {
  if (PollStoppable(fd_, POLLIN, kIdleLimit, stop_) <= 0) return false;
  char chunk[16384];
  ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
  if (n <= 0) return false;
  buf_.append(chunk, static_cast<size_t>(n));
  return true;
}

bool Connection::ReadLine(std::string& line) {
  size_t nl;
  while ((nl = buf_.find('\n')) == std::string::npos) {
    if (!Fill()) return false;
  }
  line = buf_.substr(0, nl);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  buf_.erase(0, nl + 1);
  return true;
}

bool Connection::ReadBytes(size_t n, std::string& out) {
  while (buf_.size() < n) {
    if (!Fill()) return false;
  }
  out = buf_.substr(0, n);
  buf_.erase(0, n);
  return true;
}

bool Connection::Write(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool Connection::WaitForPeerClose(std::chrono::milliseconds limit) {
  auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < limit) {
    if (stop_.load()) return true;
    pollfd p{fd_, POLLIN, 0};
    // Short limits (a slow sink's few milliseconds) must not round up to a whole poll step.
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        limit - (std::chrono::steady_clock::now() - start));
    int step = static_cast<int>(std::clamp<int64_t>(left.count(), 1, kPollStepMs));
    if (::poll(&p, 1, step) > 0) {
      char c;
      if (::recv(fd_, &c, 1, MSG_PEEK) <= 0) return true;
      // Data while we stall: keep it for later reads.
      if (!Fill()) return true;
    }
  }
  return false;
}

Status LoopbackServer::Start(Handler handler, std::string_view host, uint16_t port) {
  handler_ = std::move(handler);
  port_ = port;
  listen_fd_ = BindLoopback(host, port_);
  if (listen_fd_ < 0 || ::listen(listen_fd_, 16) != 0) {
    return Status::Internal(fmt::format("cannot listen on {}:{}", host, port));
  }
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void LoopbackServer::Stop() {
  stop_.store(true);
  // Wakes the accept loop's poll at once instead of at its next step.
  if (listen_fd_ >= 0) ::shutdown(listen_fd_, SHUT_RDWR);
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
}

void LoopbackServer::Run() {
  while (!stop_.load()) {
    if (PollStoppable(listen_fd_, POLLIN, std::chrono::milliseconds(kPollStepMs), stop_) <= 0) {
      continue;
    }
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINVAL) return;  // shut down by Stop()
      continue;
    }
    Connection connection(fd, stop_);
    handler_(connection);
  }
}

uint16_t ClosedLoopbackPort() {
  uint16_t port = 0;
  int fd = BindLoopback("127.0.0.1", port);
  if (fd >= 0) ::close(fd);
  return port;
}

}  // namespace xoal::channels::testing
