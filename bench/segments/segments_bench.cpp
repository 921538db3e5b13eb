// segments_bench: the segment engine on a realistic data set, all in one process (no network).
// Builds N customers and M events in a SqliteStore in a temp dir, computes 50 segments of mixed
// kinds from scratch through SegmentEngine::Create, measures the ingest rate through the engine's
// store with and without those segments, and the delay from an ingestion commit to the
// membership change it causes, under a paced background ingest load. Every segment size is
// checked against an independent model of the data, after the computes and again after the
// ingestion. See bench/README.md.
#include <fmt/core.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "common/clock.hpp"
#include "common/time_format.hpp"
#include "core/projects.hpp"
#include "ingest/apply.hpp"
#include "segments/catalog.hpp"
#include "segments/data_set.hpp"
#include "segments/engine.hpp"
#include "store/sqlite_store.hpp"
#include "support/proc_status.hpp"

namespace xoal::bench {
namespace {

using std::chrono::duration;
using std::chrono::nanoseconds;
using std::chrono::steady_clock;

constexpr int kBatch = 100;  // track messages per IngestBatch, as the Segment endpoint gets them
constexpr std::chrono::milliseconds kPollEvery{20};
constexpr std::chrono::seconds kProbeTimeout{10};

struct BenchOptions {
  uint32_t customers = 1'000'000;
  uint64_t events = 10'000'000;
  size_t segments = 50;
  double ingest_rate = 20'000;  // events/s of the paced background load
  size_t ingest_threads = 4;
  double rate_seconds = 10;  // length of each unpaced ingest phase
  size_t probes = 400;
  double probe_interval_ms = 50;
  double probe_seconds = 180;       // the probe phase ends after this even if probes remain
  double compute_timeout_s = 1800;  // per segment
  uint64_t seed = 1;
  std::string command_line;
};

std::variant<BenchOptions, int> ParseFlags(int argc, char** argv) {
  BenchOptions o;
  for (int i = 0; i < argc; ++i) o.command_line += (i ? " " : "") + std::string(argv[i]);
  bool quick = false;
  CLI::App app{"Benchmarks the segment engine in-process on a generated data set."};
  auto* customers = app.add_option("--customers", o.customers, "customers in the data set")
                        ->check(CLI::Range(100u, 100'000'000u));
  auto* events = app.add_option("--events", o.events, "events in the data set")
                     ->check(CLI::Range(uint64_t{0}, uint64_t{2'000'000'000}));
  app.add_flag("--quick", quick, "smoke run: 1,000 customers, 10,000 events, short phases");
  app.add_option("--segments", o.segments, "how many of the catalog's 50 segments to create")
      ->check(CLI::Range(1, 50));
  app.add_option("--ingest-rate", o.ingest_rate, "target events/s of the background load")
      ->check(CLI::Range(100.0, 1'000'000.0));
  app.add_option("--ingest-threads", o.ingest_threads, "threads of the background load")
      ->check(CLI::Range(1, 64));
  app.add_option("--rate-seconds", o.rate_seconds, "seconds of each unpaced ingest phase")
      ->check(CLI::Range(0.5, 600.0));
  app.add_option("--probes", o.probes, "probe messages that flip a customer's membership")
      ->check(CLI::Range(1, 100'000));
  app.add_option("--probe-interval-ms", o.probe_interval_ms, "time between probes")
      ->check(CLI::Range(1.0, 10'000.0));
  app.add_option("--probe-seconds", o.probe_seconds, "longest the probe phase may run")
      ->check(CLI::Range(1.0, 3600.0));
  app.add_option("--compute-timeout", o.compute_timeout_s, "seconds one segment may compute")
      ->check(CLI::Range(1.0, 86'400.0));
  app.add_option("--seed", o.seed, "seed of the data set and the load");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (quick) {
    // TODO: the smoke run should be 20,000 customers and 200,000 events; it is 100 times smaller
    // because evaluating a customer scans every event of the project (SqliteStore::ListEvents
    // with a usid does not use events_by_customer), which makes a from-scratch compute take
    // customers x events time: at 20,000 x 200,000 one segment would take hours.
    if (customers->count() == 0) o.customers = 1'000;
    if (events->count() == 0) o.events = 10'000;
    o.rate_seconds = std::min(o.rate_seconds, 3.0);
    o.probes = std::min<size_t>(o.probes, 200);
    o.probe_interval_ms = std::min(o.probe_interval_ms, 20.0);
    o.probe_seconds = std::min(o.probe_seconds, 60.0);
  }
  return o;
}

// System time frozen at the data set's "now", so every window has one exact answer and sizes can
// be checked; steady time is real, so every duration measured is real. The engine's flip timers
// therefore never come due during the run (see bench/README.md).
class FrozenSystemClock final : public Clock {
 public:
  explicit FrozenSystemClock(SystemTime now) : now_(now) {}
  SystemTime SystemNow() const override { return now_; }
  SteadyTime SteadyNow() const override { return steady_clock::now(); }

 private:
  SystemTime now_;
};

// The steady time at which the calling thread's last Write() through StampingStore returned,
// that is, when its commit was durable and the writer had answered it.
thread_local SteadyTime tls_last_commit;

// The store's writer thread (its Linux thread id), noted by the first write it runs.
std::atomic<pid_t> writer_tid{0};

// The CPU time the writer thread has used so far (/proc schedstat), or zero before any write:
// per message, a figure that other load on the machine moves far less than a rate.
nanoseconds WriterCpu() {
  pid_t tid = writer_tid.load();
  if (tid == 0) return nanoseconds{0};
  std::ifstream in(fmt::format("/proc/self/task/{}/schedstat", tid));
  int64_t ns = 0;
  in >> ns;
  return nanoseconds{ns};
}

// The store the engine wraps: the SqliteStore, noting on each writing thread when its commit
// returned. The engine publishes membership changes after that, on the same thread.
class StampingStore final : public store::Store {
 public:
  explicit StampingStore(store::Store& inner) : inner_(inner) {}
  Status Read(const std::function<Status(store::ReadTxn&)>& fn) override { return inner_.Read(fn); }
  Status Write(const std::function<Status(store::WriteTxn&)>& fn) override {
    Status st = inner_.Write([&fn](store::WriteTxn& txn) {
      writer_tid.store(static_cast<pid_t>(syscall(SYS_gettid)));
      return fn(txn);
    });
    tls_last_commit = steady_clock::now();
    return st;
  }
  void Close() override { inner_.Close(); }

 private:
  store::Store& inner_;
};

// What one probe measured, steady times.
struct Probe {
  std::string usid;
  bool entered = false;
  SteadyTime sent;
  SteadyTime returned;
  SteadyTime commit;    // the probe's commit returned (tls_last_commit on the listener's thread)
  SteadyTime notified;  // the listener saw the change
  bool seen = false;
  bool same_thread = false;  // the listener ran on the thread that sent the probe
};

// Waits for the probe segment's changes; counts every change of every segment.
class ProbeListener final : public segments::MembershipListener {
 public:
  void OnMembershipChanges(const std::vector<segments::MembershipChange>& changes) override {
    SteadyTime now = steady_clock::now();
    std::lock_guard lock(mu_);
    changes_ += changes.size();
    for (const auto& c : changes) {
      if (!pending_ || c.segment_id != segment_id_ || c.usid != pending_->usid ||
          c.entered != pending_->entered) {
        continue;
      }
      pending_->commit = tls_last_commit;
      pending_->notified = now;
      pending_->seen = true;
      pending_->same_thread = std::this_thread::get_id() == sender_;
      cv_.notify_all();
    }
  }

  void Watch(std::string segment_id) {
    std::lock_guard lock(mu_);
    segment_id_ = std::move(segment_id);
  }
  void Expect(Probe* p) {
    std::lock_guard lock(mu_);
    pending_ = p;
    sender_ = std::this_thread::get_id();
  }
  // True when the expected change arrived within `timeout`.
  bool Await(std::chrono::seconds timeout) {
    std::unique_lock lock(mu_);
    bool ok = cv_.wait_for(lock, timeout, [&] { return pending_ && pending_->seen; });
    pending_ = nullptr;
    return ok;
  }
  uint64_t changes() {
    std::lock_guard lock(mu_);
    return changes_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::string segment_id_;
  Probe* pending_ = nullptr;
  std::thread::id sender_;
  uint64_t changes_ = 0;
};

// ---- memory ----

// Resets VmHWM to the current RSS (Linux >= 4.0); false when the kernel refuses.
bool ResetPeakRss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

double Seconds(nanoseconds d) { return duration<double>(d).count(); }
double Ms(nanoseconds d) { return duration<double, std::milli>(d).count(); }

nanoseconds Percentile(std::vector<nanoseconds> v, double q) {
  if (v.empty()) return nanoseconds{0};
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

// ---- ingestion load ----

struct IngestFigures {
  uint64_t messages = 0;
  uint64_t errors = 0;
  nanoseconds elapsed{0};
  nanoseconds writer_cpu{0};           // CPU time of the store's writer thread meanwhile
  std::vector<nanoseconds> latencies;  // per IngestBatch call
  std::string first_error;
  double Rate() const { return elapsed.count() > 0 ? messages / Seconds(elapsed) : 0.0; }
};

class Ingestor {
 public:
  Ingestor(DataSet& data, store::Store& store, const store::Project& project, const Clock& clock,
           uint64_t seed)
      : data_(data), store_(store), project_(project), clock_(clock), seed_(seed) {}

  // Sends batches of kBatch track messages from `threads` threads until `stop` is set,
  // `seconds` pass or about `max_messages` are sent; paced at `rate` events/s overall, or as fast
  // as possible when rate is 0. The accepted events join the model.
  IngestFigures Run(size_t threads, double rate, double seconds, const std::atomic<bool>* stop,
                    uint64_t max_messages) {
    IngestFigures f;
    std::atomic<uint64_t> sent{0};
    std::mutex mu;
    auto start = steady_clock::now();
    nanoseconds cpu_before = WriterCpu();
    auto deadline = start + std::chrono::duration_cast<nanoseconds>(duration<double>(seconds));
    std::vector<std::thread> pool;
    for (size_t t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        std::mt19937_64 rng(seed_ + 1000 * ++runs_ + t);
        std::vector<ModelEvent> accepted;
        std::vector<nanoseconds> mine;
        nanoseconds interval{0};
        if (rate > 0) {
          interval = std::chrono::duration_cast<nanoseconds>(
              duration<double>(kBatch * static_cast<double>(threads) / rate));
        }
        auto next = start + interval * static_cast<int64_t>(t) / static_cast<int64_t>(threads);
        uint64_t local_errors = 0;
        std::string local_error;
        while (steady_clock::now() < deadline && !(stop && stop->load()) &&
               sent.fetch_add(kBatch) < max_messages) {
          if (rate > 0) {
            auto now = steady_clock::now();
            if (now < next) std::this_thread::sleep_until(std::min(next, deadline));
            if (steady_clock::now() >= deadline) break;
            // Behind schedule: go on at once, but never save up more than one second of backlog.
            next = std::max(next + interval, steady_clock::now() - std::chrono::seconds(1));
          }
          std::vector<json::value> items;
          std::vector<ModelEvent> batch(kBatch);
          for (int i = 0; i < kBatch; ++i) {
            items.push_back(data_.TrackMessage(rng, serial_++, batch[static_cast<size_t>(i)]));
          }
          ingest::IngestContext ctx{&project_, ingest::Source::kSegment, clock_.SystemNow()};
          auto t0 = steady_clock::now();
          auto r = ingest::IngestBatch(store_, ctx, items);
          mine.push_back(steady_clock::now() - t0);
          if (r.ok() && r->accepted == kBatch) {
            accepted.insert(accepted.end(), batch.begin(), batch.end());
          } else if (local_errors++ == 0) {
            local_error = r.ok() ? json::serialize(r->rejected) : r.status().message();
          }
        }
        std::lock_guard lock(mu);
        f.messages += accepted.size();
        f.errors += local_errors;
        if (f.first_error.empty()) f.first_error = local_error;
        f.latencies.insert(f.latencies.end(), mine.begin(), mine.end());
        accepted_.insert(accepted_.end(), accepted.begin(), accepted.end());
      });
    }
    for (auto& th : pool) th.join();
    f.elapsed = steady_clock::now() - start;
    f.writer_cpu = WriterCpu() - cpu_before;
    data_.AddEvents(accepted_);
    accepted_.clear();
    return f;
  }

 private:
  DataSet& data_;
  store::Store& store_;
  const store::Project& project_;
  const Clock& clock_;
  uint64_t seed_;
  std::atomic<uint64_t> serial_{0};
  std::atomic<uint64_t> runs_{0};
  std::vector<ModelEvent> accepted_;  // guarded by Run()'s mutex while its threads run
};

// ---- segments ----

struct ComputeFigures {
  std::string id;
  nanoseconds elapsed{0};
  int64_t size = -1;
  int64_t rss_before_kb = 0;
  int64_t rss_after_kb = 0;
  int64_t peak_kb = 0;
  bool ready = false;
};

Result<std::string> SegmentStatus(store::Store& store, const std::string& pid,
                                  const std::string& sid) {
  std::string status;
  XOAL_RETURN_IF_ERROR(store.Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(auto s, txn.GetSegment(pid, sid));
    if (!s) return Status::NotFound("segment vanished: " + sid);
    status = s->status;
    return Status::Ok();
  }));
  return status;
}

Result<int64_t> SegmentSize(store::Store& store, const std::string& sid) {
  int64_t n = 0;
  XOAL_RETURN_IF_ERROR(store.Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(n, txn.CountSegmentMembers(sid));
    return Status::Ok();
  }));
  return n;
}

// Creates the catalog's segment `index` and waits, bounded, until it is ready.
Result<ComputeFigures> CreateAndWait(segments::SegmentEngine& engine, const store::Project& p,
                                     size_t index, const std::vector<std::string>& ids,
                                     double timeout_s) {
  const SegmentSpec& spec = Catalog()[index];
  XOAL_ASSIGN_OR_RETURN(auto conditions, ParseJson(ConditionsWithIds(spec, ids)));
  json::object body{{"name", spec.name}, {"type", "dynamic"}, {"conditions", conditions}};
  ComputeFigures f;
  (void)ResetPeakRss();
  f.rss_before_kb = ProcStatusKb("VmRSS");
  auto start = steady_clock::now();
  auto deadline = start + std::chrono::duration_cast<nanoseconds>(duration<double>(timeout_s));
  XOAL_ASSIGN_OR_RETURN(auto segment, engine.Create(p, body));
  f.id = segment.id;
  while (steady_clock::now() < deadline) {
    XOAL_ASSIGN_OR_RETURN(auto status, SegmentStatus(engine.store(), p.id, f.id));
    if (status == "ready") {
      f.ready = true;
      break;
    }
    std::this_thread::sleep_for(kPollEvery);
  }
  f.elapsed = steady_clock::now() - start;
  f.rss_after_kb = ProcStatusKb("VmRSS");
  f.peak_kb = ProcStatusKb("VmHWM");
  XOAL_ASSIGN_OR_RETURN(f.size, SegmentSize(engine.store(), f.id));
  return f;
}

// Compares every created segment's size with the model; returns the number of mismatches.
int VerifySizes(DataSet& data, store::Store& store, const std::vector<std::string>& ids,
                std::string_view when) {
  data.IndexEvents();
  auto expected = ExpectedMembers(data, ids.size());
  data.ReleaseIndex();
  int bad = 0;
  for (size_t s = 0; s < ids.size(); ++s) {
    int64_t want = std::count(expected[s].begin(), expected[s].end(), true);
    auto got = SegmentSize(store, ids[s]);
    if (!got.ok() || *got != want) {
      ++bad;
      fmt::print("  MISMATCH {}: segment {} \"{}\": engine {} members, model {}\n", when, s,
                 Catalog()[s].name, got.ok() ? fmt::format("{}", *got) : got.status().message(),
                 want);
    }
  }
  fmt::print("sizes checked against the model {}: {} of {} segments match\n", when,
             ids.size() - static_cast<size_t>(bad), ids.size());
  return bad;
}

// ---- probes ----

struct ProbeFigures {
  std::vector<Probe> probes;
  uint64_t missed = 0;
  uint64_t errors = 0;
  std::string first_error;
};

// Flips probe customers into and out of the "Enterprise plan" segment (catalog 0) with identify
// messages that set `plan`, one at a time, every `interval`.
ProbeFigures RunProbes(DataSet& data, store::Store& store, const store::Project& project,
                       const Clock& clock, ProbeListener& listener, const BenchOptions& o) {
  ProbeFigures f;
  // Probe customers: a spread of customers not on the enterprise plan.
  std::vector<uint32_t> who;
  for (uint32_t i = 3; i < data.customers() && who.size() < 20; i += data.customers() / 23) {
    if (kPlans[data.customer(i).plan] != "enterprise") who.push_back(i);
  }
  std::map<uint32_t, bool> in;  // current state of each probe customer
  auto interval =
      std::chrono::duration_cast<nanoseconds>(duration<double, std::milli>(o.probe_interval_ms));
  auto next = steady_clock::now();
  // Message times must grow so each identify is newer than the attribute it overwrites.
  SystemTime base = clock.SystemNow() - std::chrono::hours(1);
  auto deadline = next + std::chrono::duration_cast<nanoseconds>(duration<double>(o.probe_seconds));
  for (size_t k = 0; k < o.probes && steady_clock::now() < deadline; ++k) {
    std::this_thread::sleep_until(next);
    next += interval;
    uint32_t c = who[k % who.size()];
    bool enter = !in[c];
    std::string plan(enter ? "enterprise" : kPlans[data.customer(c).plan]);
    json::value msg =
        json::object{{"type", "identify"},
                     {"messageId", fmt::format("probe-{}", k)},
                     {"userId", UserIdOf(c)},
                     {"timestamp", FormatIsoTime(base + std::chrono::milliseconds(k))},
                     {"traits", json::object{{"plan", plan}}}};
    Probe p;
    p.usid = UsidOf(c);
    p.entered = enter;
    listener.Expect(&p);
    ingest::IngestContext ctx{&project, ingest::Source::kSegment, clock.SystemNow()};
    p.sent = steady_clock::now();
    auto r = ingest::IngestBatch(store, ctx, {msg});
    p.returned = steady_clock::now();
    if (!r.ok() || r->accepted != 1) {
      if (f.errors++ == 0)
        f.first_error = r.ok() ? json::serialize(r->rejected) : r.status().message();
      listener.Await(std::chrono::seconds(0));
      continue;
    }
    if (!listener.Await(kProbeTimeout)) {
      ++f.missed;
      continue;
    }
    in[c] = enter;
    f.probes.push_back(p);
  }
  // The model follows: a probe customer ends on the plan its last accepted probe set.
  for (const auto& [c, entered] : in) {
    if (entered) data.mutable_customer(c).plan = 4;  // kPlans[4] == "enterprise"
  }
  return f;
}

// ---- report ----

void PrintIngestRow(std::string_view name, const IngestFigures& f) {
  double writer_us = f.messages > 0 ? f.writer_cpu.count() / 1e3 / f.messages : 0.0;
  fmt::print("{:<38} {:>10} {:>10.0f} {:>9.1f} {:>9.1f} {:>7} {:>9.1f}\n", name, f.messages,
             f.Rate(), Ms(Percentile(f.latencies, 0.5)), Ms(Percentile(f.latencies, 0.99)),
             f.errors, writer_us);
  if (!f.first_error.empty()) fmt::print("  first error: {}\n", f.first_error);
}

int RunBenchmark(const BenchOptions& o) {
  spdlog::set_level(spdlog::level::warn);  // the engine logs every page of a compute at info
  fmt::print("command: {}\n", o.command_line);
  fmt::print("segments_bench: {} customers, {} events, {} segments, seed {}\n", o.customers,
             o.events, o.segments, o.seed);
  const char* tmp_root = std::getenv("TMPDIR");
  std::string tmpl =
      std::string(tmp_root && *tmp_root ? tmp_root : "/tmp") + "/xoal-segments-bench-XXXXXX";
  if (!mkdtemp(tmpl.data())) {
    fmt::print(stderr, "segments_bench: mkdtemp failed\n");
    return 1;
  }
  std::filesystem::path dir(tmpl);
  // Everything runs inside this function so that every way out removes the temp dir below.
  int failures = [&]() -> int {
    int failures = 0;
    // Truncated to the second: stored times are milliseconds and ages whole seconds.
    SystemTime now =
        std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    FrozenSystemClock clock(now);
    auto opened = store::SqliteStore::Open({dir / "xoal.db", 512, nullptr});
    if (!opened.ok()) {
      fmt::print(stderr, "segments_bench: {}\n", opened.status().message());
      return 1;
    }
    store::SqliteStore& sqlite = **opened;
    auto made = core::CreateProject(sqlite, clock, "bench");
    if (!made.ok()) {
      fmt::print(stderr, "segments_bench: {}\n", made.status().message());
      return 1;
    }
    const store::Project& project = made->project;

    // 1. The data set.
    DataSet data({o.customers, o.events, o.seed}, now);
    auto loaded = data.Load(sqlite, project);
    if (!loaded.ok()) {
      fmt::print(stderr, "segments_bench: load failed: {}\n", loaded.status().message());
      return 1;
    }
    std::error_code ec;
    auto db_bytes = std::filesystem::file_size(dir / "xoal.db", ec);
    fmt::print(
        "\n== 1. data set (straight through WriteTxn, {} customers and {} events per "
        "transaction)\n",
        5000, 20000);
    fmt::print("{:<12} {:>12} {:>10} {:>12}\n", "rows", "count", "seconds", "rows/s");
    uint64_t cust_rows = o.customers + loaded->tag_rows + loaded->membership_rows;
    fmt::print("{:<12} {:>12} {:>10.1f} {:>12.0f}   ({} customers, {} tags, {} memberships)\n",
               "customers", cust_rows, Seconds(loaded->customers_elapsed),
               cust_rows / Seconds(loaded->customers_elapsed), o.customers, loaded->tag_rows,
               loaded->membership_rows);
    fmt::print("{:<12} {:>12} {:>10.1f} {:>12.0f}\n", "events", o.events,
               Seconds(loaded->events_elapsed), o.events / Seconds(loaded->events_elapsed));
    fmt::print(
        "database file {:.0f} MiB (WAL not counted); process RSS {:.0f} MiB, of which "
        "the benchmark's own model {:.0f} MiB\n",
        static_cast<double>(db_bytes) / (1 << 20), Mib(ProcStatusKb("VmRSS")),
        static_cast<double>(data.ModelBytes()) / (1 << 20));

    StampingStore stamping(sqlite);
    (void)stamping.Write([](store::WriteTxn&) { return Status::Ok(); });  // notes the writer
    segments::SegmentEngine engine(stamping, clock);
    if (Status s = engine.Load(); !s.ok()) {
      fmt::print(stderr, "segments_bench: engine load: {}\n", s.message());
      return 1;
    }
    engine.Start();
    ProbeListener listener;
    engine.Subscribe(&listener);
    Ingestor ingestor(data, engine.store(), project, clock, o.seed);

    // 2a. Ingest rate with no segment: the baseline of the ratio below.
    // The unpaced phases stop after a tenth of the data set at most, so that at small scales they
    // do not change its size much.
    uint64_t unpaced_cap = std::max<uint64_t>(o.events / 10, 1'000);
    IngestFigures bare = ingestor.Run(o.ingest_threads, 0, o.rate_seconds, nullptr, unpaced_cap);

    // 2. Segments, one at a time, each computed from scratch.
    fmt::print(
        "\n== 2. from-scratch compute through SegmentEngine::Create, one segment at a "
        "time (status polled every {} ms)\n",
        kPollEvery.count());
    fmt::print("{:>3} {:<20} {:<38} {:>9} {:>9} {:>9} {:>9} {:>9}\n", "#", "kind", "name",
               "members", "seconds", "cust/s", "RSS MiB", "peak MiB");
    std::vector<std::string> ids;
    std::vector<ComputeFigures> computes;
    int64_t rss_before_all = ProcStatusKb("VmRSS");
    (void)ResetPeakRss();
    int64_t peak_all = 0;
    for (size_t s = 0; s < o.segments; ++s) {
      auto f = CreateAndWait(engine, project, s, ids, o.compute_timeout_s);
      if (!f.ok()) {
        fmt::print("segment {} failed: {}\n", s, f.status().message());
        ++failures;
        break;
      }
      const SegmentSpec& spec = Catalog()[s];
      fmt::print("{:>3} {:<20} {:<38} {:>9} {:>9.2f} {:>9.0f} {:>9.0f} {:>9.0f}{}\n", s, spec.kind,
                 spec.name, f->size, Seconds(f->elapsed), o.customers / Seconds(f->elapsed),
                 Mib(f->rss_after_kb), Mib(f->peak_kb), f->ready ? "" : "  NOT READY (timeout)");
      std::fflush(stdout);
      peak_all = std::max(peak_all, f->peak_kb);
      ids.push_back(f->id);
      computes.push_back(*f);
      if (!f->ready) {
        ++failures;
        break;
      }
    }
    int64_t rss_after_all = ProcStatusKb("VmRSS");
    std::map<std::string_view, std::pair<int, nanoseconds>> by_kind;
    nanoseconds total{0};
    for (size_t s = 0; s < computes.size(); ++s) {
      auto& k = by_kind[Catalog()[s].kind];
      ++k.first;
      k.second += computes[s].elapsed;
      total += computes[s].elapsed;
    }
    fmt::print("\nper kind:\n{:<20} {:>5} {:>12} {:>14}\n", "kind", "count", "total s",
               "mean s/segment");
    for (const auto& [kind, k] : by_kind) {
      fmt::print("{:<20} {:>5} {:>12.2f} {:>14.2f}\n", kind, k.first, Seconds(k.second),
                 Seconds(k.second) / k.first);
    }
    fmt::print("{:<20} {:>5} {:>12.2f} {:>14.2f}\n", "all", computes.size(), Seconds(total),
               computes.empty() ? 0.0 : Seconds(total) / static_cast<double>(computes.size()));
    fmt::print(
        "memory: RSS {:.0f} MiB before the first segment, {:.0f} MiB after the last; "
        "peak (VmHWM) during the computes {:.0f} MiB\n",
        Mib(rss_before_all), Mib(rss_after_all), Mib(peak_all));
    if (failures == 0) failures += VerifySizes(data, engine.store(), ids, "after the computes");

    // 3. Ingest rate with every segment active, then the probes under the paced load.
    IngestFigures with_segments;
    IngestFigures paced;
    ProbeFigures probes;
    (void)ResetPeakRss();
    if (failures == 0) {
      with_segments = ingestor.Run(o.ingest_threads, 0, o.rate_seconds, nullptr, unpaced_cap);
      listener.Watch(ids[0]);
      std::atomic<bool> stop{false};
      double probe_seconds = static_cast<double>(o.probes) * o.probe_interval_ms / 1000.0;
      probe_seconds = std::min(probe_seconds, o.probe_seconds);
      std::thread load([&] {
        paced =
            ingestor.Run(o.ingest_threads, o.ingest_rate, probe_seconds + 60, &stop, UINT64_MAX);
      });
      std::this_thread::sleep_for(std::chrono::seconds(1));  // let the load settle first
      probes = RunProbes(data, engine.store(), project, clock, listener, o);
      stop = true;
      load.join();
    }
    engine.Stop();

    fmt::print(
        "\n== 3. ingestion through engine.store() (IngestBatch of {} track messages, {} "
        "threads)\n",
        kBatch, o.ingest_threads);
    fmt::print("{:<38} {:>10} {:>10} {:>9} {:>9} {:>7} {:>9}\n", "phase", "messages", "events/s",
               "p50 ms", "p99 ms", "errors", "writer us");
    PrintIngestRow("unpaced, no segments", bare);
    PrintIngestRow(fmt::format("unpaced, {} segments", ids.size()), with_segments);
    PrintIngestRow(fmt::format("paced at {:.0f}/s, {} segments, probes", o.ingest_rate, ids.size()),
                   paced);
    fmt::print("ingest rate with {} segments / with none: {:.3f}\n", ids.size(),
               bare.Rate() > 0 ? with_segments.Rate() / bare.Rate() : 0.0);
    if (paced.Rate() < 0.95 * o.ingest_rate) {
      fmt::print("paced load reached {:.0f} events/s of the {:.0f} asked for\n", paced.Rate(),
                 o.ingest_rate);
    }
    failures += static_cast<int>(bare.errors + with_segments.errors + paced.errors);

    std::vector<nanoseconds> commit_to_cb;
    std::vector<nanoseconds> send_to_cb;
    std::vector<nanoseconds> call;
    bool all_same_thread = true;
    for (const auto& p : probes.probes) {
      commit_to_cb.push_back(p.notified - p.commit);
      send_to_cb.push_back(p.notified - p.sent);
      call.push_back(p.returned - p.sent);
      all_same_thread = all_same_thread && p.same_thread;
    }
    fmt::print(
        "\nprobes: {} of {} sent and observed, {} missed (no callback within {} s), {} "
        "rejected\n",
        probes.probes.size(), o.probes, probes.missed, kProbeTimeout.count(), probes.errors);
    if (!probes.first_error.empty()) fmt::print("  first error: {}\n", probes.first_error);
    fmt::print("{:<46} {:>9} {:>9} {:>9}\n", "delay", "p50 ms", "p99 ms", "max ms");
    auto row = [](std::string_view name, const std::vector<nanoseconds>& v) {
      fmt::print("{:<46} {:>9.3f} {:>9.3f} {:>9.3f}\n", name, Ms(Percentile(v, 0.5)),
                 Ms(Percentile(v, 0.99)), Ms(Percentile(v, 1.0)));
    };
    row("commit returned -> MembershipListener", commit_to_cb);
    row("IngestBatch called -> MembershipListener", send_to_cb);
    row("IngestBatch called -> returned", call);
    fmt::print("listener ran on the probe's own thread, before IngestBatch returned: {}\n",
               all_same_thread ? "always" : "not always");
    fmt::print("membership changes published in all: {}\n", listener.changes());
    fmt::print("memory: RSS {:.0f} MiB after the ingestion; peak (VmHWM) during it {:.0f} MiB\n",
               Mib(ProcStatusKb("VmRSS")), Mib(ProcStatusKb("VmHWM")));
    failures += static_cast<int>(probes.missed + probes.errors);
    if (probes.probes.empty()) ++failures;

    if (!ids.empty() && failures == 0) {
      failures += VerifySizes(data, engine.store(), ids, "after the ingestion");
    }
    sqlite.Close();
    return failures;
  }();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (failures > 0) {
    fmt::print("FAILED: {} problems (see above)\n", failures);
    return 1;
  }
  fmt::print("OK\n");
  return 0;
}

}  // namespace
}  // namespace xoal::bench

int main(int argc, char** argv) {
  auto parsed = xoal::bench::ParseFlags(argc, argv);
  if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;
  return xoal::bench::RunBenchmark(std::get<xoal::bench::BenchOptions>(parsed));
}
