// customers_bench: the Customer API of a real `xoal serve` over loopback, against an HTTP-only
// baseline measured on the same connections in the same run. See bench/README.md.
//
// It starts the built `xoal` on a fresh temp data dir and port 0, creates a project with the CLI,
// opens the connections and runs three phases of equal length: GET /healthz (baseline), customer
// upserts, and reads of random customers created by the upserts. Every answer is checked; the
// exit code is 0 only when no request failed and the server stopped cleanly.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <variant>

#include "common/clock.hpp"
#include "customers/customer_workloads.hpp"
#include "customers/load_driver.hpp"
#include "support/xoal_process.hpp"

namespace xoal::bench {
namespace {

using std::chrono::duration;
using std::chrono::nanoseconds;

struct BenchOptions {
  std::string xoal_binary = XOAL_BINARY;
  double seconds_per_phase = 10.0;
  size_t connections = 64;
  double update_share = 0.2;
  uint64_t seed = 1;
  uint64_t max_requests = 5'000'000;
};

// Returns the options, or the exit code to end with at once (after --help, or on a bad flag).
std::variant<BenchOptions, int> ParseFlags(int argc, char** argv) {
  BenchOptions o;
  bool quick = false;
  CLI::App app{"Benchmarks the Customer API of a real `xoal serve` over loopback."};
  app.add_option("--xoal", o.xoal_binary, "the xoal binary to start")->check(CLI::ExistingFile);
  app.add_option("--duration", o.seconds_per_phase, "seconds per phase")
      ->check(CLI::Range(0.1, 3600.0));
  app.add_flag("--quick", quick, "smoke run: 1 s per phase (overrides --duration)");
  app.add_option("--connections", o.connections, "keep-alive connections")
      ->check(CLI::Range(1, 1024));
  app.add_option("--update-share", o.update_share, "share of upserts that update a known profile")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--seed", o.seed, "seed of the request generator");
  app.add_option("--max-requests", o.max_requests, "cap on the requests of one phase")
      ->check(CLI::Range(uint64_t{1}, uint64_t{100'000'000}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (quick) {
    o.seconds_per_phase = 1.0;
  }
  return o;
}

double Millis(nanoseconds d) { return duration<double, std::milli>(d).count(); }

void PrintHeader() {
  fmt::print("{:<8} {:>9} {:>10} {:>8} {:>8} {:>9} {:>8} {:>7} {:>9} {:>10}\n", "phase", "requests",
             "req/s", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "errors", "/baseline",
             "client cpu");
}

void PrintPhase(std::string_view name, const PhaseResult& r, double baseline_rps) {
  LatencySummary l = Summarize(r.latencies);
  double rps = r.RequestsPerSecond();
  fmt::print("{:<8} {:>9} {:>10.0f} {:>8.2f} {:>8.2f} {:>9.2f} {:>8.2f} {:>7} {:>9.3f} {:>10.2f}\n",
             name, r.requests, rps, Millis(l.p50), Millis(l.p99), Millis(l.p999), Millis(l.max),
             r.errors, baseline_rps > 0 ? rps / baseline_rps : 0.0, r.ClientCores());
}

// Answers per second through the phase: a rate that sinks as the data grows shows up here.
void PrintTimeline(std::string_view name, const PhaseResult& r) {
  if (r.answered_per_second.size() < 2) {
    return;
  }
  fmt::print("  {} answers per second:", name);
  for (uint64_t n : r.answered_per_second) {
    fmt::print(" {}", n);
  }
  fmt::print("\n");
}

void PrintProblems(std::string_view name, const PhaseResult& r) {
  // Connect() opened every connection before the first phase: any reopening is worth a look.
  if (r.reconnects > 0) {
    fmt::print("  {}: {} connections reopened (server closed them or a request failed)\n", name,
               r.reconnects);
  }
  for (const std::string& sample : r.error_samples) {
    fmt::print("  {} error: {}\n", name, sample);
  }
}

int RunBenchmark(const BenchOptions& o) {
  testing::XoalProcess xoal(o.xoal_binary);
  testing::ProjectKeys keys = xoal.CreateProject("bench");
  if (keys.management_key.empty()) {
    fmt::print(stderr, "customers_bench: `xoal project create bench --json` failed\n");
    return 1;
  }
  if (auto started = xoal.Start(); !started) {
    fmt::print(stderr, "customers_bench: {}\n", started.message());
    return 1;
  }

  SystemClock clock;
  LoadDriver driver({.port = xoal.port(), .connections = o.connections}, clock);
  if (Status s = driver.Connect(); !s.ok()) {
    fmt::print(stderr, "customers_bench: {}\n", s.message());
    return 1;
  }
  PhaseBudget budget{std::chrono::duration_cast<nanoseconds>(duration<double>(o.seconds_per_phase)),
                     o.max_requests};
  std::mt19937_64 rng(o.seed);
  CustomerRoster roster;
  fmt::print("customers_bench: {} connections, {:.1f} s per phase, update share {:.2f}, seed {}\n",
             o.connections, o.seconds_per_phase, o.update_share, o.seed);

  HealthzWorkload healthz;
  PhaseResult baseline = driver.RunPhase(healthz, budget);
  UpsertWorkload upserts(keys.management_key, o.connections, o.update_share, rng, roster);
  PhaseResult upsert = driver.RunPhase(upserts, budget);
  PhaseResult get;
  if (!roster.empty()) {
    GetWorkload gets(keys.management_key, o.connections, rng, roster);
    get = driver.RunPhase(gets, budget);
  } else {
    get.errors = 1;
    get.error_samples.push_back("no customer was created, so there is nothing to read");
  }

  double baseline_rps = baseline.RequestsPerSecond();
  PrintHeader();
  PrintPhase("healthz", baseline, baseline_rps);
  PrintPhase("upsert", upsert, baseline_rps);
  PrintPhase("get", get, baseline_rps);
  fmt::print("upserts: {} created, {} updated; gets read from {} customers\n", upserts.created(),
             upserts.updated(), roster.size());
  PrintTimeline("healthz", baseline);
  PrintTimeline("upsert", upsert);
  PrintTimeline("get", get);
  PrintProblems("healthz", baseline);
  PrintProblems("upsert", upsert);
  PrintProblems("get", get);

  int exit_code = xoal.Stop();
  uint64_t errors = baseline.errors + upsert.errors + get.errors;
  if (exit_code != 0 || errors > 0) {
    fmt::print("FAILED: {} errors; xoal exited with {} on SIGTERM. Server log tail ({}):\n{}\n",
               errors, exit_code, xoal.stderr_path(), xoal.StderrTail());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace xoal::bench

int main(int argc, char** argv) {
  auto parsed = xoal::bench::ParseFlags(argc, argv);
  if (const int* exit_code = std::get_if<int>(&parsed)) {
    return *exit_code;
  }
  return xoal::bench::RunBenchmark(std::get<xoal::bench::BenchOptions>(parsed));
}
