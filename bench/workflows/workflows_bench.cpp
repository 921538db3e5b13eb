// workflows_bench: what waiting runs cost and how late due runs fire (issue: "1,000,000 runs
// waiting on delays: memory and disk; lateness p50/p99 of 100,000 timers due in the same minute").
//
// 1. Inserts N runs waiting on a 30-day delay straight through WriteTxn (10,000 per
//    transaction), starts the workflow engine, lets its scheduler idle on them, and reports the
//    database size and the process's RSS before and after (the engine keeps nothing per run).
// 2. Inserts M runs of M customers whose delays end at instants spread evenly over one minute
//    starting a few seconds ahead on the real clock, and measures for each run how late the
//    scheduler picked it up: the `at` of its step log entry minus its wake_at. Each run then
//    takes one more step (add_tag) in the same write, as a real run would.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/clock.hpp"
#include "core/projects.hpp"
#include "messaging/render.hpp"
#include "segments/engine.hpp"
#include "store/sqlite_store.hpp"
#include "support/proc_status.hpp"
#include "workflows/engine.hpp"

namespace xoal::bench {
namespace {

constexpr int kPerTxn = 10000;

uint64_t DirBytes(const std::filesystem::path& dir) {
  uint64_t total = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.is_regular_file()) total += e.file_size();
  }
  return total;
}

const char* kDefinition = R"({"trigger": {"type": "api"}, "start": "wait",
  "steps": {"wait": {"type": "delay", "duration": {"days": 30}, "next": "tag"},
            "tag": {"type": "add_tag", "tag": "woke"}}})";

Status AddWorkflow(store::Store& s, const store::Project& p, SystemTime now) {
  return s.Write([&](store::WriteTxn& txn) {
    store::Workflow w{
        0, p.id, "wf_bench", "bench", "active", 1, json::parse(kDefinition).as_object(), now, now};
    XOAL_RETURN_IF_ERROR(txn.PutWorkflow(w));
    return txn.InsertWorkflowVersion(w.id, 1, w.definition, now);
  });
}

store::WorkflowRun WaitingRun(const store::Project& p, int i, std::string usid, SystemTime wake,
                              SystemTime now) {
  store::WorkflowRun r;
  r.project_id = p.id;
  r.id = fmt::format("run_{:09d}", i);
  r.workflow_id = "wf_bench";
  r.usid = std::move(usid);
  r.status = "active";
  r.step = "wait";
  r.waiting = true;
  r.wake_at = wake;
  r.started_at = now;
  r.updated_at = now;
  return r;
}

// Inserts runs [from, to) made by `make`, kPerTxn per write.
Status InsertRuns(store::Store& s, int from, int to,
                  const std::function<Status(store::WriteTxn&, int)>& make) {
  for (int start = from; start < to; start += kPerTxn) {
    XOAL_RETURN_IF_ERROR(s.Write([&](store::WriteTxn& txn) {
      for (int i = start; i < std::min(to, start + kPerTxn); ++i)
        XOAL_RETURN_IF_ERROR(make(txn, i));
      return Status::Ok();
    }));
  }
  return Status::Ok();
}

double Percentile(std::vector<int64_t>& v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return static_cast<double>(v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))]);
}

int Run(int waiting, int timers, const std::filesystem::path& dir) {
  SystemClock clock;
  auto opened = store::SqliteStore::Open({dir / "xoal.db", 512, nullptr});
  if (!opened.ok()) return fmt::print(stderr, "{}\n", opened.status().message()), 1;
  store::SqliteStore& sqlite = **opened;
  auto made = core::CreateProject(sqlite, clock, "bench");
  if (!made.ok()) return fmt::print(stderr, "{}\n", made.status().message()), 1;
  const store::Project& p = made->project;
  SystemTime now = clock.SystemNow();
  if (!AddWorkflow(sqlite, p, now).ok()) return 1;

  // 1. Waiting runs.
  int64_t rss_empty = ProcStatusKb("VmRSS");
  uint64_t disk_empty = DirBytes(dir);
  auto t0 = std::chrono::steady_clock::now();
  Status st = InsertRuns(sqlite, 0, waiting, [&](store::WriteTxn& txn, int i) {
    auto r = WaitingRun(p, i, fmt::format("cus_w{:09d}", i),
                        now + std::chrono::hours(24 * 30) + std::chrono::seconds(i % 86400), now);
    return txn.InsertRun(r);
  });
  if (!st.ok()) return fmt::print(stderr, "{}\n", st.message()), 1;
  double insert_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  segments::SegmentEngine segments(sqlite, clock);
  messaging::MessageRenderer renderer(clock);
  workflows::WorkflowEngine engine(segments, clock, renderer, nullptr);
  if (!segments.Load().ok() || !engine.Load().ok()) return 1;
  engine.Start();
  for (int i = 0; i < 20; ++i) {  // the scheduler idles over the waiting runs for 2 s
    engine.Wake();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  int64_t rss_waiting = ProcStatusKb("VmRSS");
  uint64_t disk_waiting = DirBytes(dir);
  fmt::print("\n== 1. {} runs waiting on a delay\n", waiting);
  fmt::print("inserted in {:.1f} s ({:.0f} runs/s)\n", insert_s, waiting / insert_s);
  fmt::print("disk: {:.1f} MiB before, {:.1f} MiB after ({:.0f} bytes per run)\n",
             disk_empty / 1048576.0, disk_waiting / 1048576.0,
             static_cast<double>(disk_waiting - disk_empty) / std::max(waiting, 1));
  fmt::print("RSS: {:.1f} MiB before, {:.1f} MiB with the engine running over them\n",
             Mib(rss_empty), Mib(rss_waiting));

  // 2. Timers due within one minute.
  SystemTime begin = clock.SystemNow() + std::chrono::seconds(5);
  auto span = std::chrono::milliseconds(timers >= 10000 ? 60000 : 2000);
  std::vector<SystemTime> wake(timers);
  st = InsertRuns(segments.store(), 0, timers, [&](store::WriteTxn& txn, int i) {
    store::Customer c;
    c.project_id = p.id;
    c.usid = fmt::format("cus_t{:09d}", i);
    c.created_at = c.updated_at = now;
    c.added_via = "bench";
    XOAL_RETURN_IF_ERROR(txn.InsertCustomer(c));
    wake[i] = begin + span * i / timers;
    auto r = WaitingRun(p, waiting + i, c.usid, wake[i], now);
    return txn.InsertRun(r);
  });
  if (!st.ok()) return fmt::print(stderr, "{}\n", st.message()), 1;
  auto deadline = std::chrono::steady_clock::now() + span + std::chrono::seconds(300);
  int64_t done = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    (void)sqlite.Read([&](store::ReadTxn& txn) {
      XOAL_ASSIGN_OR_RETURN(auto stats, txn.GetWorkflowStats("wf_bench"));
      done = stats.runs_by_status["completed"];
      return Status::Ok();
    });
    if (done == timers) break;
  }
  engine.Stop();
  std::vector<int64_t> late;
  st = sqlite.Read([&](store::ReadTxn& txn) {
    for (int i = 0; i < timers; ++i) {
      XOAL_ASSIGN_OR_RETURN(auto log,
                            txn.ListRunSteps(fmt::format("run_{:09d}", waiting + i), {0, 1}));
      if (log.empty()) continue;
      late.push_back(
          std::chrono::duration_cast<std::chrono::milliseconds>(log[0].at - wake[i]).count());
    }
    return Status::Ok();
  });
  fmt::print("\n== 2. {} timers due within {} s\n", timers, span.count() / 1000);
  fmt::print("fired: {} of {}\n", late.size(), timers);
  fmt::print("lateness (ms): p50 {:.0f}, p99 {:.0f}, max {:.0f}\n", Percentile(late, 0.5),
             Percentile(late, 0.99), Percentile(late, 1.0));
  fmt::print("RSS at the end: {:.1f} MiB\n", Mib(ProcStatusKb("VmRSS")));
  sqlite.Close();
  return static_cast<int>(late.size()) == timers && done == timers ? 0 : 1;
}

}  // namespace
}  // namespace xoal::bench

int main(int argc, char** argv) {
  CLI::App app("workflows_bench");
  bool quick = false;
  int waiting = 1000000;
  int timers = 100000;
  app.add_flag("--quick", quick, "smoke run: 10,000 waiting runs, 2,000 timers over 2 s");
  app.add_option("--waiting", waiting, "runs waiting on a delay");
  app.add_option("--timers", timers, "runs due within the same minute");
  CLI11_PARSE(app, argc, argv);
  if (quick) {
    waiting = 10000;
    timers = 2000;
  }
  spdlog::set_level(spdlog::level::warn);
  const char* root = std::getenv("TMPDIR");
  std::string tmpl = std::string(root && *root ? root : "/tmp") + "/xoal-workflows-bench-XXXXXX";
  if (!mkdtemp(tmpl.data())) return 1;
  fmt::print("workflows_bench: {} waiting runs, {} timers\n", waiting, timers);
  int rc = xoal::bench::Run(waiting, timers, tmpl);
  std::filesystem::remove_all(tmpl);
  return rc;
}
