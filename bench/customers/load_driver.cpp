#include "customers/load_driver.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cassert>
#include <cmath>
#include <exception>
#include <utility>

namespace xoal::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using std::chrono::nanoseconds;

// The only address the driver talks to: a benchmark must never load anything but this machine.
constexpr const char* kLoopback = "127.0.0.1";
// Bigger answers than this are a bug in the server or the workload, not a customer profile.
constexpr uint64_t kMaxAnswerBody = 1 << 20;

// CPU time (user and system) of the calling thread so far.
nanoseconds ThreadCpuTime() {
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  auto total = [](const timeval& t) {
    return std::chrono::seconds(t.tv_sec) + std::chrono::microseconds(t.tv_usec);
  };
  return total(usage.ru_utime) + total(usage.ru_stime);
}

std::string DescribeException(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return std::string("exception: ") + ex.what();
  } catch (...) {
    return "exception of unknown type";
  }
}

}  // namespace

double PhaseResult::RequestsPerSecond() const {
  double seconds = std::chrono::duration<double>(elapsed).count();
  return seconds > 0 ? static_cast<double>(requests) / seconds : 0.0;
}

double PhaseResult::ClientCores() const {
  return elapsed.count() > 0 ? static_cast<double>(client_cpu.count()) / elapsed.count() : 0.0;
}

LatencySummary Summarize(std::vector<nanoseconds> samples) {
  LatencySummary s;
  if (samples.empty()) {
    return s;
  }
  std::sort(samples.begin(), samples.end());
  // Nearest rank: the smallest sample with at least a fraction q of all samples at or below it.
  auto rank = [&samples](double q) {
    auto n = static_cast<double>(samples.size());
    auto index = static_cast<size_t>(std::max(1.0, std::ceil(q * n))) - 1;
    return samples[std::min(index, samples.size() - 1)];
  };
  s.p50 = rank(0.50);
  s.p99 = rank(0.99);
  s.p999 = rank(0.999);
  s.max = samples.back();
  return s;
}

namespace {

struct Connection {
  explicit Connection(asio::io_context& ioc) : stream(ioc) {}

  void Close() {
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.close();
    buffer.clear();
    open = false;
  }

  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  bool open = false;
};

// The state of one RunPhase(), shared by its coroutines (all on one thread).
struct PhaseRun {
  bool HasBudget(SteadyTime now) const {
    return now < deadline && result.requests < budget.max_requests;
  }

  void RecordAnswer(SteadyTime sent, SteadyTime answered) {
    result.latencies.push_back(answered - sent);
    if (answered >= deadline) {
      return;  // the tail of requests in flight at the end would show as a tiny last second
    }
    auto second = static_cast<size_t>((answered - start) / std::chrono::seconds(1));
    if (second >= result.answered_per_second.size()) {
      result.answered_per_second.resize(second + 1, 0);
    }
    ++result.answered_per_second[second];
  }

  void Fail(std::string reason) {
    ++result.errors;
    if (result.error_samples.size() < LoadDriver::kMaxErrorSamples) {
      result.error_samples.push_back(std::move(reason));
    }
  }

  PhaseBudget budget;
  SteadyTime start;
  SteadyTime deadline;
  PhaseResult result;
};

// One request and its whole answer on an open connection. On a transport error the answer is
// left as is and the error returned; the caller closes the connection.
asio::awaitable<beast::error_code> Exchange(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                            bhttp::request<bhttp::string_body>& request,
                                            bhttp::response_parser<bhttp::string_body>& parser,
                                            std::chrono::seconds timeout) {
  beast::error_code ec;
  stream.expires_after(timeout);
  co_await bhttp::async_write(stream, request, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    co_return ec;
  }
  co_await bhttp::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
  co_return ec;
}

bhttp::request<bhttp::string_body> ToBeast(BenchRequest r, std::string_view host) {
  bhttp::request<bhttp::string_body> req{r.method, r.target, 11};
  req.set(bhttp::field::host, host);
  if (!r.key.empty()) {
    req.set(bhttp::field::authorization, std::string("Bearer ").append(r.key));
  }
  if (!r.body.empty()) {
    req.set(bhttp::field::content_type, "application/json");
  }
  req.body() = std::move(r.body);
  req.prepare_payload();
  return req;
}

// The coroutine of one connection for one phase.
asio::awaitable<void> RunConnection(size_t index, Connection& c, Workload& workload, PhaseRun& run,
                                    const Clock& clock, const tcp::endpoint& server,
                                    std::chrono::seconds timeout) {
  std::string host = server.address().to_string() + ":" + std::to_string(server.port());
  while (run.HasBudget(clock.SteadyNow())) {
    ++run.result.requests;
    beast::error_code ec;
    if (!c.open) {
      c.stream.expires_after(timeout);
      co_await c.stream.async_connect(server, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        c.Close();
        run.Fail("connect: " + ec.message());
        continue;
      }
      c.open = true;
      ++run.result.reconnects;
    }

    auto request = ToBeast(workload.Next(index), host);
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(kMaxAnswerBody);
    SteadyTime start = clock.SteadyNow();
    ec = co_await Exchange(c.stream, c.buffer, request, parser, timeout);
    SteadyTime end = clock.SteadyNow();
    if (ec) {
      c.Close();
      run.Fail(std::string(request.method_string()) + " " + std::string(request.target()) + ": " +
               ec.message());
      continue;
    }

    run.RecordAnswer(start, end);
    const auto& answer = parser.get();
    if (auto why = workload.Check(index, static_cast<int>(answer.result_int()), answer.body())) {
      run.Fail(std::move(*why));
    }
    if (!answer.keep_alive()) {
      c.Close();
    }
  }
}

}  // namespace

struct LoadDriver::Io {
  asio::io_context ioc{1};
  tcp::endpoint server;
  std::vector<std::unique_ptr<Connection>> connections;
};

LoadDriver::LoadDriver(DriverOptions options, const Clock& clock)
    : options_(options), clock_(clock), io_(std::make_unique<Io>()) {
  io_->server = tcp::endpoint(asio::ip::make_address(kLoopback), options_.port);
}

LoadDriver::~LoadDriver() {
  for (auto& c : io_->connections) {
    c->Close();
  }
}

Status LoadDriver::Connect() {
  io_->connections.clear();
  for (size_t i = 0; i < options_.connections; ++i) {
    auto c = std::make_unique<Connection>(io_->ioc);
    beast::error_code ec;
    c->stream.socket().connect(io_->server, ec);
    if (ec) {
      return Status::Unavailable("connection " + std::to_string(i) + " to " +
                                 io_->server.address().to_string() + ":" +
                                 std::to_string(io_->server.port()) + ": " + ec.message());
    }
    c->open = true;
    io_->connections.push_back(std::move(c));
  }
  return Status::Ok();
}

PhaseResult LoadDriver::RunPhase(Workload& workload, const PhaseBudget& budget) {
  assert(io_->connections.size() == options_.connections && "RunPhase() before Connect()");
  PhaseRun run;
  run.budget = budget;
  nanoseconds cpu_at_start = ThreadCpuTime();
  SteadyTime start = clock_.SteadyNow();
  run.start = start;
  run.deadline = start + budget.duration;

  for (size_t i = 0; i < io_->connections.size(); ++i) {
    asio::co_spawn(io_->ioc,
                   RunConnection(i, *io_->connections[i], workload, run, clock_, io_->server,
                                 options_.request_timeout),
                   [&run](std::exception_ptr e) {
                     if (e) {
                       run.Fail(DescribeException(e));
                     }
                   });
  }
  io_->ioc.restart();
  io_->ioc.run();

  run.result.elapsed = clock_.SteadyNow() - start;
  run.result.client_cpu = ThreadCpuTime() - cpu_at_start;
  return std::move(run.result);
}

}  // namespace xoal::bench
