// broadcasts_bench: one email broadcast to N customers (default 1,000,000) in one process, on a
// SqliteStore in a temp dir. Phase 1 writes the customers and a manual segment holding them all.
// Phase 2 sends the broadcast through BroadcastEngine (RunOnce on this thread, as its own thread
// would): the time to snapshot the audience and to enqueue every message into the outbox, and
// the peak memory. Phase 3 starts the outbox with the real SMTP sender against a loopback
// SmtpSink and measures how many messages per second reach the sink. Checks: the snapshot and
// the enqueue count every customer once, and every message that reached the sink went to a
// distinct customer. See bench/README.md.
#include <fmt/core.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <thread>

#include "broadcasts/engine.hpp"
#include "channels/email.hpp"
#include "channels/push.hpp"
#include "channels/sms.hpp"
#include "channels/testing/smtp_sink.hpp"
#include "channels/webhook.hpp"
#include "core/projects.hpp"
#include "messaging/channel_config.hpp"
#include "messaging/outbox.hpp"
#include "store/sqlite_store.hpp"
#include "support/bench_report.hpp"
#include "support/bench_store.hpp"

namespace xoal::bench {
namespace {

using std::chrono::steady_clock;
constexpr int kWriteBatch = 5000;
constexpr std::chrono::milliseconds kPoll{50};

struct BenchOptions {
  int customers = 1'000'000;
  int send_count = 20'000;  // messages to time in the send phase (at most `customers`)
  double send_timeout_s = 300;
  int workers = 4;
  bool keep = false;
};

long PeakRssMb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;
}

// N customers with an email, a first name and one of three timezones, all in segment seg_bench.
void WriteAudience(store::Store& store, const store::Project& project, int n, SystemTime now) {
  store::Segment segment{0,       project.id, "seg_bench", "Everyone", "manual",
                         nullptr, "ready",    now,         now};
  Check(store.Write([&](store::WriteTxn& txn) { return txn.PutSegment(segment); }), "segment");
  const char* zones[] = {"Pacific/Auckland", "America/Los_Angeles", "Europe/Paris"};
  for (int base = 0; base < n; base += kWriteBatch) {
    Check(store.Write([&](store::WriteTxn& txn) {
      for (int i = base; i < std::min(n, base + kWriteBatch); ++i) {
        store::Customer c;
        c.project_id = project.id;
        c.usid = fmt::format("cus_bench{:08d}", i);
        c.email = fmt::format("c{}@example.com", i);
        c.attributes =
            json::object{{"first_name", fmt::format("C{}", i)}, {"timezone", zones[i % 3]}};
        c.created_at = c.updated_at = now;
        c.added_via = "api";
        XOAL_RETURN_IF_ERROR(txn.InsertCustomer(c));
        XOAL_RETURN_IF_ERROR(txn.AddSegmentMember(project.id, "seg_bench", c.usid, now));
      }
      return Status::Ok();
    }),
          "customers");
  }
}

store::Broadcast ReadBroadcast(store::Store& store, const store::Broadcast& b) {
  std::optional<store::Broadcast> out;
  Check(store.Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(out, txn.GetBroadcast(b.project_id, b.id));
    return Status::Ok();
  }),
        "read broadcast");
  if (!out) Fail("the broadcast vanished");
  return *out;
}

// Sends the broadcast and runs the engine to the end; prints the snapshot and enqueue times.
void EnqueuePhase(store::Store& store, broadcasts::BroadcastEngine& engine,
                  const store::Project& project, int n) {
  json::object body{{"name", "bench"},
                    {"segment_id", "seg_bench"},
                    {"channel", "email"},
                    {"message", json::object{{"subject", "Hello {{ customer.first_name }}"},
                                             {"text", "News for {{ customer.first_name }}."},
                                             {"unsubscribe_url", "https://example.com/u"}}}};
  auto created = engine.Create(project, body);
  if (!created.ok()) Fail("create: " + created.status().message());
  auto start = steady_clock::now();
  Check(engine.Send(project, created->id).status(), "send");
  std::optional<steady_clock::duration> snapshot;
  store::Broadcast b = *created;
  while (true) {
    auto worked = engine.RunOnce();
    if (!worked.ok()) Fail("engine: " + worked.status().message());
    b = ReadBroadcast(store, b);
    if (!snapshot && b.phase != "snapshot") snapshot = steady_clock::now() - start;
    if (b.status == "sent") break;
  }
  auto total = steady_clock::now() - start;
  if (b.recipients != n || b.enqueued != n) {
    Fail(fmt::format("recipients {} enqueued {}, expected {}", b.recipients, b.enqueued, n));
  }
  int64_t queued = 0;
  Check(store.Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(auto counts, txn.CountOutboxByKeyPrefix(project.id, "bcast:" + b.id));
    for (const auto& c : counts) queued += c.count;
    return Status::Ok();
  }),
        "count");
  if (queued != n) Fail(fmt::format("{} outbox messages, expected {}", queued, n));
  double deliver_s = Seconds(total - *snapshot);
  Line("snapshot   {:>9} recipients in {:7.2f} s  ({:>8.0f}/s)\n", n, Seconds(*snapshot),
       n / Seconds(*snapshot));
  Line("enqueue    {:>9} messages   in {:7.2f} s  ({:>8.0f}/s)\n", n, deliver_s, n / deliver_s);
  Line("total      {:>9} customers  in {:7.2f} s;  peak RSS {} MB\n", n, Seconds(total),
       PeakRssMb());
}

// Starts the outbox against `sink` and times `count` messages reaching it.
void SendPhase(store::Store& store, const Clock& clock, channels::testing::SmtpSink& sink,
               const BenchOptions& o) {
  channels::SmtpEmailSender email(clock);
  channels::TwilioSmsSender sms(clock);
  channels::FcmPushSender push(clock);
  channels::HttpWebhookSender webhook(clock);
  messaging::OutboxOptions options;
  options.workers = o.workers;
  messaging::Outbox outbox(store, clock, {email, sms, push, webhook}, nullptr, options);
  int count = std::min(o.send_count, o.customers);
  auto start = steady_clock::now();
  outbox.Start();
  auto deadline = start + std::chrono::duration<double>(o.send_timeout_s);
  while (sink.message_count() < static_cast<size_t>(count) && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(kPoll);  // the sink is filled by other threads; nothing to wait on
  }
  auto elapsed = steady_clock::now() - start;
  outbox.Stop();
  auto received = sink.messages();
  std::set<std::string> recipients;
  for (const auto& m : received) {
    if (m.reply_code == 250 && !m.rcpt_to.empty()) recipients.insert(m.rcpt_to[0]);
  }
  if (received.size() < static_cast<size_t>(count)) {
    Fail(fmt::format("only {} of {} messages reached the sink", received.size(), count));
  }
  if (recipients.size() != received.size()) {
    Fail(fmt::format("{} messages went to {} customers", received.size(), recipients.size()));
  }
  Line(
      "send       {:>9} messages   in {:7.2f} s  ({:>8.0f}/s) to a loopback SMTP sink, "
      "{} workers\n",
      received.size(), Seconds(elapsed), received.size() / Seconds(elapsed), o.workers);
}

int Run(const BenchOptions& o) {
  spdlog::set_level(spdlog::level::warn);
  SystemClock clock;
  {
    BenchStore bench_store("bcbench", clock, o.keep);
    store::Store& store = bench_store.store();
    const store::Project& project = bench_store.project();
    channels::testing::SmtpSink sink;
    Check(sink.Start(), "sink");
    json::object config = SinkEmailChannel(sink.port(), "News <news@example.com>");
    Check(store.Write([&](store::WriteTxn& txn) {
      return txn.PutChannelConfig(project.id, "email", config, clock.SystemNow());
    }),
          "channel");

    auto start = steady_clock::now();
    WriteAudience(store, project, o.customers, clock.SystemNow());
    Line("customers  {:>9} written    in {:7.2f} s (setup, not the broadcast)\n", o.customers,
         Seconds(steady_clock::now() - start));
    messaging::MessageRenderer renderer(clock);
    broadcasts::BroadcastEngine engine(store, clock, renderer, nullptr);
    EnqueuePhase(store, engine, project, o.customers);
    SendPhase(store, clock, sink, o);
    sink.Stop();
  }
  return 0;
}

}  // namespace
}  // namespace xoal::bench

int main(int argc, char** argv) {
  xoal::bench::BenchOptions o;
  bool quick = false;
  CLI::App app{"broadcasts_bench: enqueue a broadcast to N customers, then send to an SMTP sink"};
  app.add_option("--customers", o.customers, "audience size (default 1,000,000)");
  app.add_option("--send-count", o.send_count, "messages to time in the send phase");
  app.add_option("--workers", o.workers, "outbox workers");
  app.add_flag("--quick", quick, "smoke run: 2,000 customers, all of them sent");
  app.add_flag("--keep", o.keep, "keep the temp data dir");
  CLI11_PARSE(app, argc, argv);
  if (quick) {
    o.customers = 2000;
    o.send_count = 2000;
  }
  return xoal::bench::Run(o);
}
