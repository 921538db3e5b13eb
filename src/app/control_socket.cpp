#include "app/control_socket.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

namespace xoal::app {
namespace {

constexpr int kIoTimeoutMs = 5000;
constexpr size_t kMaxLine = 256;

bool FillAddress(const std::filesystem::path& path, sockaddr_un& addr) {
  std::string p = path.string();
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (p.size() >= sizeof addr.sun_path) return false;
  std::memcpy(addr.sun_path, p.c_str(), p.size() + 1);
  return true;
}

// Reads up to a newline (excluded) or EOF, waiting at most kIoTimeoutMs for each chunk.
std::optional<std::string> ReadLine(int fd) {
  std::string line;
  char buf[128];
  while (line.size() < kMaxLine) {
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, kIoTimeoutMs) <= 0) return std::nullopt;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    line.append(buf, static_cast<size_t>(n));
    if (auto nl = line.find('\n'); nl != std::string::npos) {
      line.resize(nl);
      return line;
    }
  }
  return line.empty() ? std::nullopt : std::optional<std::string>(line);
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

ControlServer::~ControlServer() { Stop(); }

Status ControlServer::Start(const std::filesystem::path& path, Handler handle) {
  sockaddr_un addr;
  if (!FillAddress(path, addr)) {
    return Status::Unavailable("the data directory path is too long for a control socket");
  }
  std::error_code ec;
  std::filesystem::remove(path, ec);  // a stale socket of a server that was killed
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Unavailable(std::string("socket: ") + std::strerror(errno));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 16) != 0) {
    std::string err = std::strerror(errno);
    close(fd);
    return Status::Unavailable("cannot bind the control socket: " + err);
  }
  chmod(path.c_str(), 0600);
  if (pipe2(wake_fd_, O_CLOEXEC) != 0) {
    close(fd);
    return Status::Unavailable(std::string("pipe: ") + std::strerror(errno));
  }
  path_ = path;
  handle_ = std::move(handle);
  listen_fd_ = fd;
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void ControlServer::Run() {
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("control_socket_failed error=\"{}\"", std::strerror(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    int conn = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) continue;
    if (auto line = ReadLine(conn)) {
      spdlog::info("control_command command=\"{}\"", *line);
      (void)WriteAll(conn, handle_(*line) + "\n");
    }
    close(conn);
  }
}

void ControlServer::Stop() {
  if (!thread_.joinable()) return;
  char byte = 1;
  (void)!write(wake_fd_[1], &byte, 1);
  thread_.join();
  close(listen_fd_);
  close(wake_fd_[0]);
  close(wake_fd_[1]);
  listen_fd_ = wake_fd_[0] = wake_fd_[1] = -1;
  std::error_code ec;
  std::filesystem::remove(path_, ec);
}

std::optional<std::string> SendControl(const std::filesystem::path& path,
                                       const std::string& command) {
  sockaddr_un addr;
  if (!FillAddress(path, addr)) return std::nullopt;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  std::optional<std::string> answer;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      WriteAll(fd, command + "\n")) {
    answer = ReadLine(fd);
  }
  close(fd);
  return answer;
}

}  // namespace xoal::app
