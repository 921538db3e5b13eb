// ingest_bench: POST /ingest/v1/segment/event of a real `xoal serve` over loopback, with batches
// of 100 realistic track messages, against two in-process baselines measured in the same run on
// the same kind of SQLite file: the whole ingestion engine without HTTP, and bare event inserts.
// See bench/README.md.
#include <fmt/core.h>
#include <stdlib.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "common/clock.hpp"
#include "common/time_format.hpp"
#include "core/projects.hpp"
#include "customers/load_driver.hpp"
#include "ingest/apply.hpp"
#include "ingest/track_batches.hpp"
#include "store/sqlite_store.hpp"
#include "support/xoal_process.hpp"

namespace xoal::bench {
namespace {

using std::chrono::duration;
using std::chrono::nanoseconds;

struct BenchOptions {
  std::string xoal_binary = XOAL_BINARY;
  double seconds = 20.0;  // per phase
  size_t connections = 32;
  int batch = 100;
  uint64_t users = 100'000;
  uint64_t seed = 1;
  std::string only;  // run one phase alone (bare, engine or http), e.g. under a profiler
};

std::variant<BenchOptions, int> ParseFlags(int argc, char** argv) {
  BenchOptions o;
  bool quick = false;
  CLI::App app{"Benchmarks Segment ingestion of a real `xoal serve` over loopback."};
  app.add_option("--xoal", o.xoal_binary, "the xoal binary to start")->check(CLI::ExistingFile);
  app.add_option("--duration", o.seconds, "seconds per phase")->check(CLI::Range(0.1, 3600.0));
  app.add_flag("--quick", quick, "smoke run: 1 s per phase");
  app.add_option("--connections", o.connections, "keep-alive connections (and in-process threads)")
      ->check(CLI::Range(1, 1024));
  app.add_option("--batch", o.batch, "messages per request")->check(CLI::Range(1, 1000));
  app.add_option("--users", o.users, "distinct users the events belong to");
  app.add_option("--seed", o.seed, "seed of the message generator");
  app.add_option("--only", o.only, "run one phase alone")
      ->check(CLI::IsMember({"bare", "engine", "http"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (quick) o.seconds = 1.0;
  return o;
}

struct PhaseFigures {
  uint64_t messages = 0;
  uint64_t errors = 0;
  nanoseconds elapsed{0};
  std::vector<nanoseconds> latencies;  // per request (one batch)
  std::string first_error;

  double MessagesPerSecond() const {
    double s = duration<double>(elapsed).count();
    return s > 0 ? static_cast<double>(messages) / s : 0.0;
  }
};

// Sends batches and checks that every message of each was accepted.
class SegmentBatchWorkload final : public Workload {
 public:
  SegmentBatchWorkload(std::string key, const BenchOptions& o) : key_(std::move(key)), o_(o) {
    for (size_t i = 0; i < o.connections; ++i) generators_.emplace_back(o.users, o.seed + i);
  }

  BenchRequest Next(size_t connection) override {
    return {boost::beast::http::verb::post, "/ingest/v1/segment/event",
            generators_[connection].NextBatch(o_.batch), key_};
  }

  std::optional<std::string> Check(size_t, int status, std::string_view body) override {
    std::string want = fmt::format("\"accepted\":{},", o_.batch);
    if (status == 200 && body.find(want) != std::string_view::npos) {
      accepted_ += static_cast<uint64_t>(o_.batch);
      return std::nullopt;
    }
    return fmt::format("HTTP {}: {}", status, body.substr(0, 200));
  }

  uint64_t accepted() const { return accepted_; }
  double AverageMessageBytes() const { return generators_[0].AverageMessageBytes(); }

 private:
  std::string key_;
  const BenchOptions& o_;
  std::vector<TrackBatches> generators_;
  uint64_t accepted_ = 0;
};

enum class InProcessMode { kEngine, kBareInserts };

// Applies one batch as `mode` says; returns an error text or "".
std::string ApplyInProcess(InProcessMode mode, store::Store& store, const store::Project& project,
                           const Clock& clock, const std::string& body, int batch) {
  auto parsed = ParseJson(body);
  if (!parsed.ok()) return parsed.status().message();
  auto items = ingest::SplitBatch(std::move(*parsed));
  if (!items.ok()) return items.status().message();
  if (mode == InProcessMode::kEngine) {
    ingest::IngestContext ctx{&project, ingest::Source::kSegment, clock.SystemNow()};
    auto r = ingest::IngestBatch(store, ctx, *items);
    if (!r.ok()) return r.status().message();
    return r->accepted == batch ? "" : json::serialize(r->rejected);
  }
  // The floor: the same events as rows of the same schema, no identity, no profile update.
  Status st = store.Write([&](store::WriteTxn& txn) {
    for (const auto& item : *items) {
      const json::object& m = item.get_object();
      store::Event e;
      e.project_id = project.id;
      e.id = std::string(m.at("messageId").get_string());
      e.usid = std::string(m.at("userId").get_string());
      e.name = std::string(m.at("event").get_string());
      e.type = "track";
      e.source = "segment";
      e.timestamp = ParseJsonTime(m.at("timestamp")).value_or(clock.SystemNow());
      e.received_at = clock.SystemNow();
      e.properties = m.at("properties").get_object();
      XOAL_RETURN_IF_ERROR(txn.InsertEvent(e));
    }
    return Status::Ok();
  });
  return st.ok() ? "" : st.message();
}

PhaseFigures RunInProcess(InProcessMode mode, const BenchOptions& o) {
  PhaseFigures f;
  char tmpl[] = "/tmp/xoal-ingest-bench-XXXXXX";
  if (!mkdtemp(tmpl)) {
    f.errors = 1;
    f.first_error = "mkdtemp failed";
    return f;
  }
  std::filesystem::path dir(tmpl);
  SystemClock clock;
  {
    auto store = store::SqliteStore::Open({dir / "xoal.db", 512, nullptr});
    auto made = store.ok() ? core::CreateProject(**store, clock, "bench")
                           : Result<core::CreatedProject>(store.status());
    if (!made.ok()) {
      f.errors = 1;
      f.first_error = made.status().message();
      return f;
    }
    std::mutex mu;
    std::atomic<uint64_t> messages{0};
    auto start = clock.SteadyNow();
    auto deadline = start + std::chrono::duration_cast<nanoseconds>(duration<double>(o.seconds));
    std::vector<std::thread> threads;
    for (size_t t = 0; t < o.connections; ++t) {
      threads.emplace_back([&, t] {
        TrackBatches gen(o.users, o.seed + 1000 + t);
        std::vector<nanoseconds> mine;
        while (clock.SteadyNow() < deadline) {
          std::string body = gen.NextBatch(o.batch);
          auto t0 = clock.SteadyNow();
          std::string err = ApplyInProcess(mode, **store, made->project, clock, body, o.batch);
          mine.push_back(clock.SteadyNow() - t0);
          if (!err.empty()) {
            std::lock_guard lock(mu);
            if (f.errors++ == 0) f.first_error = err;
          } else {
            messages += static_cast<uint64_t>(o.batch);
          }
        }
        std::lock_guard lock(mu);
        f.latencies.insert(f.latencies.end(), mine.begin(), mine.end());
      });
    }
    for (auto& th : threads) th.join();
    f.elapsed = clock.SteadyNow() - start;
    f.messages = messages;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return f;
}

double Millis(nanoseconds d) { return duration<double, std::milli>(d).count(); }

void PrintRow(std::string_view name, const PhaseFigures& f, double engine_rate) {
  LatencySummary l = Summarize(f.latencies);
  double rate = f.MessagesPerSecond();
  fmt::print("{:<22} {:>10} {:>11.0f} {:>9.2f} {:>9.2f} {:>9.2f} {:>7} {:>10.3f}\n", name,
             f.messages, rate, Millis(l.p50), Millis(l.p99), Millis(l.max), f.errors,
             engine_rate > 0 ? rate / engine_rate : 0.0);
  if (!f.first_error.empty()) fmt::print("  first error: {}\n", f.first_error);
}

int RunBenchmark(const BenchOptions& o) {
  fmt::print(
      "ingest_bench: batches of {} track messages, {} connections/threads, {:.1f} s per "
      "phase, {} users, seed {}\n",
      o.batch, o.connections, o.seconds, o.users, o.seed);
  PhaseFigures bare;
  PhaseFigures engine;
  if (o.only.empty() || o.only == "bare") bare = RunInProcess(InProcessMode::kBareInserts, o);
  if (o.only.empty() || o.only == "engine") engine = RunInProcess(InProcessMode::kEngine, o);
  if (!o.only.empty() && o.only != "http") {
    PrintRow(o.only, o.only == "bare" ? bare : engine, engine.MessagesPerSecond());
    return bare.errors + engine.errors > 0 ? 1 : 0;
  }

  testing::XoalProcess xoal(o.xoal_binary);
  testing::ProjectKeys keys = xoal.CreateProject("bench");
  if (keys.ingestion_key.empty()) return 1;
  if (auto started = xoal.Start(); !started) {
    fmt::print(stderr, "ingest_bench: {}\n", started.message());
    return 1;
  }
  SystemClock clock;
  LoadDriver driver({.port = xoal.port(), .connections = o.connections}, clock);
  if (Status s = driver.Connect(); !s.ok()) {
    fmt::print(stderr, "ingest_bench: {}\n", s.message());
    return 1;
  }
  SegmentBatchWorkload workload(keys.ingestion_key, o);
  PhaseResult http = driver.RunPhase(
      workload,
      {std::chrono::duration_cast<nanoseconds>(duration<double>(o.seconds)), 100'000'000});
  PhaseFigures over_http{workload.accepted(), http.errors, http.elapsed, http.latencies,
                         http.error_samples.empty() ? "" : http.error_samples[0]};

  fmt::print("messages average {:.0f} bytes; latency is per request of {} messages\n",
             workload.AverageMessageBytes(), o.batch);
  fmt::print("{:<22} {:>10} {:>11} {:>9} {:>9} {:>9} {:>7} {:>10}\n", "phase", "messages",
             "events/s", "p50 ms", "p99 ms", "max ms", "errors", "/engine");
  double engine_rate = engine.MessagesPerSecond();
  PrintRow("bare inserts (in-proc)", bare, engine_rate);
  PrintRow("engine (in-proc)", engine, engine_rate);
  PrintRow("HTTP segment endpoint", over_http, engine_rate);
  fmt::print("HTTP client thread used {:.2f} of a core\n", http.ClientCores());

  int exit_code = xoal.Stop();
  uint64_t errors = bare.errors + engine.errors + over_http.errors;
  if (exit_code != 0 || errors > 0) {
    fmt::print("FAILED: {} errors; xoal exited with {}. Server log tail:\n{}\n", errors, exit_code,
               xoal.StderrTail());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace xoal::bench

int main(int argc, char** argv) {
  auto parsed = xoal::bench::ParseFlags(argc, argv);
  if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;
  return xoal::bench::RunBenchmark(std::get<xoal::bench::BenchOptions>(parsed));
}
