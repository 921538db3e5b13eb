// LoadDriver: a closed-loop HTTP/1.1 load generator for the benchmarks, on one Asio thread.
//
// It holds a fixed number of keep-alive connections to one server on 127.0.0.1 (never anywhere
// else). RunPhase() runs one coroutine per connection; each takes a request from the Workload,
// sends it, reads the whole answer, hands the answer to the Workload to check, and sends the next,
// until the phase's time or request budget is spent. So at most `connections` requests are in
// flight, and what is measured is the server's rate plus the cost of this one client thread.
// The same connections carry every phase, so phases compare like with like.
//
// Every wait is bounded: a request (connect, write, read) that takes longer than
// `request_timeout` fails with a timeout, is counted as an error, and its connection is reopened.
//
// Everything, Workload calls included, runs on the thread that calls RunPhase(): a Workload needs
// no locking. Not thread-safe.
#pragma once

#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.hpp"
#include "common/status.hpp"

namespace xoal::bench {

// One request as a Workload describes it. `key`, when not empty, is sent as
// `Authorization: Bearer <key>`; a non-empty body is sent as `application/json`.
struct BenchRequest {
  boost::beast::http::verb method = boost::beast::http::verb::get;
  std::string target;
  std::string body;
  std::string_view key;  // must outlive the request; the Workload owns it
};

// What one phase sends and how it judges the answers.
class Workload {
 public:
  virtual ~Workload() = default;

  // The next request to send on connection `connection` (0-based, below the connection count).
  virtual BenchRequest Next(size_t connection) = 0;

  // Judges the answer to the request last returned by Next(connection). Returns nullopt when the
  // answer is right, otherwise a short reason (shown for the first few failures of a phase).
  virtual std::optional<std::string> Check(size_t connection, int status,
                                           std::string_view body) = 0;
};

struct DriverOptions {
  uint16_t port = 0;  // the server's port on 127.0.0.1
  size_t connections = 64;
  std::chrono::seconds request_timeout{10};
};

// The budget of one phase: it ends when either runs out, after the requests in flight answer.
struct PhaseBudget {
  std::chrono::nanoseconds duration{std::chrono::seconds(10)};
  uint64_t max_requests = 5'000'000;
};

struct PhaseResult {
  uint64_t requests = 0;    // sent, whether answered or failed in transport
  uint64_t errors = 0;      // transport failures plus answers the Workload rejected
  uint64_t reconnects = 0;  // connections reopened after a failure or `Connection: close`
  std::chrono::nanoseconds elapsed{0};              // from the start to the last answer
  std::chrono::nanoseconds client_cpu{0};           // CPU time this client thread used
  std::vector<std::chrono::nanoseconds> latencies;  // send to full answer, of answered requests
  std::vector<std::string> error_samples;           // the first few failure reasons
  std::vector<uint64_t> answered_per_second;        // answers in each second before the end

  double RequestsPerSecond() const;
  // The share of one core the client used: near 1.0 means the client, not the server, set the rate.
  double ClientCores() const;
};

// Latency percentiles by nearest rank; all zero when there are no samples.
struct LatencySummary {
  std::chrono::nanoseconds p50{0};
  std::chrono::nanoseconds p99{0};
  std::chrono::nanoseconds p999{0};
  std::chrono::nanoseconds max{0};
};
LatencySummary Summarize(std::vector<std::chrono::nanoseconds> samples);

class LoadDriver {
 public:
  static constexpr size_t kMaxErrorSamples = 5;

  // `clock` times the phases and the requests; it must outlive the driver.
  LoadDriver(DriverOptions options, const Clock& clock);
  ~LoadDriver();
  LoadDriver(const LoadDriver&) = delete;
  LoadDriver& operator=(const LoadDriver&) = delete;

  // Opens every connection. Returns kUnavailable naming the first connection that failed.
  Status Connect();

  // Runs `workload` on every connection until `budget` is spent and all answers are in.
  // Requires: Connect() succeeded.
  PhaseResult RunPhase(Workload& workload, const PhaseBudget& budget);

 private:
  struct Io;  // the io_context and the connections; Asio stays out of this header

  DriverOptions options_;
  const Clock& clock_;
  std::unique_ptr<Io> io_;
};

}  // namespace xoal::bench
