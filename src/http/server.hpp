// Server: an HTTP/1.1 server on Boost.Beast with keep-alive.
//
// Sockets are served by `io_threads` Asio threads (one per core by default). A parsed request is
// handed to a pool of `worker_threads` threads that run the handler, which may block on the store;
// the answer is written back on the connection's strand. That pool lets many requests wait on one
// group commit together without stalling the socket threads.
//
// Stop() is the clean shutdown: stop accepting, close idle connections, let in-flight requests
// finish and answer (with `Connection: close`), then return. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/status.hpp"
#include "http/http_types.hpp"

namespace xoal::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0 picks a free port; Start() returns it
  int io_threads = 0;    // 0: one per core
  int worker_threads = 32;
  size_t header_limit = 16 * 1024;
  size_t body_limit = 8 * 1024 * 1024;
  std::chrono::seconds read_timeout{30};   // to receive a whole request once it has started
  std::chrono::seconds idle_timeout{75};   // a keep-alive connection with no request
  std::chrono::seconds stop_timeout{20};   // in-flight work gets this long on Stop()
};

class Server {
 public:
  Server(ServerOptions options, Handler dispatch);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts serving. Returns the bound port, or kUnavailable if the address is taken.
  Result<uint16_t> Start();

  // Stops as described above. Safe to call more than once.
  void Stop();

  // Defined in server.cpp; public only so that its connection type can name it.
  struct State;

 private:
  std::unique_ptr<State> state_;
};

}  // namespace xoal::http
