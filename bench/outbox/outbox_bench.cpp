// outbox_bench: how fast the durable outbox delivers email, in one process on a SqliteStore in a
// temp dir (issue 5: "outbox throughput to a loopback sink"). Three timed phases, each with its
// own loopback SmtpSink:
//   direct:  the same SmtpEmailSender the outbox uses, called by W threads straight at the sink,
//            no store: the ceiling the outbox is measured against;
//   outbox:  N messages queued (due now), then the outbox with W workers started; the time until
//            every one reached the sink (claim, send, record per message);
//   backlog: the same with B more messages queued but not due (tomorrow), so the due-message
//            query runs against a large queue.
// The outbox figures are printed as messages/s and as a ratio of the direct rate. Checks: every
// key reached the sink exactly once and every outbox message ended `sent`. See bench/README.md.
#include <fmt/core.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

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
constexpr int kEnqueueBatch = 2000;
constexpr std::chrono::milliseconds kPoll{20};

struct BenchOptions {
  int messages = 20'000;  // timed messages per phase
  int backlog = 200'000;  // queued but not due in the backlog phase; 0 skips it
  int workers = 4;
  double timeout_s = 600;
  bool keep = false;
};

std::string KeyOf(std::string_view phase, int i) { return fmt::format("{}-{}", phase, i); }

// The message every phase sends: a small transactional text email, as a receipt would be.
json::object Content() {
  return json::object{{"to", "ann@example.com"},
                      {"subject", "Your receipt"},
                      {"text", "Thanks for your order. It ships tomorrow."}};
}

channels::EmailMessage EmailOf(const json::object& content) {
  channels::EmailMessage m;
  m.to = content.at("to").as_string().c_str();
  m.subject = content.at("subject").as_string().c_str();
  m.text = content.at("text").as_string().c_str();
  m.transactional = true;
  return m;
}

// Waits (polling: the sink is filled by other threads) until it holds `count` messages.
void WaitForSink(const channels::testing::SmtpSink& sink, int count, const BenchOptions& o) {
  auto deadline = steady_clock::now() + std::chrono::duration<double>(o.timeout_s);
  while (sink.message_count() < static_cast<size_t>(count) && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(kPoll);
  }
  if (sink.message_count() < static_cast<size_t>(count)) {
    Fail(fmt::format("only {} of {} messages reached the sink", sink.message_count(), count));
  }
}

// Every key of `phase` reached the sink exactly once, and nothing else did.
void CheckExactlyOnce(const channels::testing::SmtpSink& sink, std::string_view phase, int n) {
  auto counts = sink.AcceptedKeyCounts();
  if (counts.size() != static_cast<size_t>(n)) {
    Fail(fmt::format("{}: {} distinct keys at the sink, expected {}", phase, counts.size(), n));
  }
  for (int i = 0; i < n; ++i) {
    auto it = counts.find(KeyOf(phase, i));
    if (it == counts.end() || it->second != 1) {
      Fail(fmt::format("{}: key {} arrived {} times", phase, KeyOf(phase, i),
                       it == counts.end() ? 0 : it->second));
    }
  }
}

// A loopback sink and the email channel pointing at it, stored and typed.
struct Sink {
  channels::testing::SmtpSink smtp;
  json::object stored;
  channels::EmailConfig config;
};

std::unique_ptr<Sink> StartSink() {
  auto sink = std::make_unique<Sink>();
  Check(sink->smtp.Start(), "sink");
  sink->stored = SinkEmailChannel(sink->smtp.port(), "Shop <shop@example.com>");
  auto config = messaging::EmailConfigFrom(sink->stored);
  if (!config.ok()) Fail("config: " + config.status().message());
  sink->config = *config;
  return sink;
}

// The baseline: W threads share N sends through the sender, straight to the sink.
double DirectPhase(const Clock& clock, const BenchOptions& o) {
  auto sink = StartSink();
  channels::SmtpEmailSender sender(clock);
  channels::EmailMessage message = EmailOf(Content());
  std::atomic<int> next{0};
  std::atomic<int> failed{0};
  auto start = steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < o.workers; ++t) {
    threads.emplace_back([&] {
      for (int i = next++; i < o.messages; i = next++) {
        if (!sender.Send(message, KeyOf("direct", i), sink->config).sent()) ++failed;
      }
    });
  }
  for (auto& t : threads) t.join();
  auto elapsed = steady_clock::now() - start;
  if (failed > 0) Fail(fmt::format("direct: {} sends failed", failed.load()));
  CheckExactlyOnce(sink->smtp, "direct", o.messages);
  double rate = o.messages / Seconds(elapsed);
  Line(
      "direct   {:>7} messages in {:6.2f} s  {:>7.0f}/s  (SmtpEmailSender, {} threads, no store)\n",
      o.messages, Seconds(elapsed), rate, o.workers);
  return rate;
}

// Queues `n` messages of `phase` due at `due` (EnqueueInTxn, batched writes).
void Enqueue(store::Store& store, const std::string& project_id, const std::string& usid,
             std::string_view phase, int n, SystemTime due) {
  json::object content = Content();
  for (int base = 0; base < n; base += kEnqueueBatch) {
    Check(store.Write([&](store::WriteTxn& txn) {
      for (int i = base; i < std::min(n, base + kEnqueueBatch); ++i) {
        messaging::EnqueueRequest r{project_id,
                                    usid,
                                    messaging::Channel::kEmail,
                                    content,
                                    KeyOf(phase, i),
                                    /*transactional=*/true};
        XOAL_ASSIGN_OR_RETURN(auto result, messaging::EnqueueInTxn(txn, r, due));
        if (!result.created) return Status::Internal("key enqueued twice");
      }
      return Status::Ok();
    }),
          "enqueue");
  }
}

// Points the project's email channel at a fresh sink, queues N messages due now, then times the
// outbox delivering them all.
double OutboxPhase(store::Store& store, const Clock& clock, const std::string& project_id,
                   const std::string& usid, std::string_view phase, const BenchOptions& o) {
  auto sink = StartSink();
  Check(store.Write([&](store::WriteTxn& txn) {
    return txn.PutChannelConfig(project_id, "email", sink->stored, clock.SystemNow());
  }),
        "channel");
  Enqueue(store, project_id, usid, phase, o.messages, clock.SystemNow());

  channels::SmtpEmailSender email_sender(clock);
  channels::TwilioSmsSender sms(clock);
  channels::FcmPushSender push(clock);
  channels::HttpWebhookSender webhook(clock);
  messaging::OutboxOptions options;
  options.workers = o.workers;
  messaging::Outbox outbox(store, clock, {email_sender, sms, push, webhook}, nullptr, options);
  auto start = steady_clock::now();
  outbox.Start();
  WaitForSink(sink->smtp, o.messages, o);
  auto elapsed = steady_clock::now() - start;
  outbox.Stop();  // records the last outcomes before the check below reads them

  CheckExactlyOnce(sink->smtp, phase, o.messages);
  int64_t sent = 0;
  Check(store.Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(auto counts, txn.CountOutboxByKeyPrefix(project_id, phase));
    for (const auto& c : counts) sent += c.status == "sent" ? c.count : 0;
    return Status::Ok();
  }),
        "count");
  if (sent != o.messages) Fail(fmt::format("{}: {} sent of {}", phase, sent, o.messages));
  return o.messages / Seconds(elapsed);
}

std::string MakeCustomer(store::Store& store, const std::string& project_id, SystemTime now) {
  store::Customer c;
  c.project_id = project_id;
  c.usid = "cus_bench";
  c.email = "ann@example.com";
  c.created_at = c.updated_at = now;
  c.added_via = "api";
  Check(store.Write([&](store::WriteTxn& txn) { return txn.InsertCustomer(c); }), "customer");
  return c.usid;
}

int Run(const BenchOptions& o) {
  spdlog::set_level(spdlog::level::warn);
  SystemClock clock;
  {
    BenchStore bench_store("outboxbench", clock, o.keep);
    store::Store& store = bench_store.store();
    const std::string& project_id = bench_store.project().id;
    std::string usid = MakeCustomer(store, project_id, clock.SystemNow());

    double direct = DirectPhase(clock, o);
    double outbox = OutboxPhase(store, clock, project_id, usid, "outbox", o);
    Line("outbox   {:>7} messages in {:6.2f} s  {:>7.0f}/s  ({} workers; {:.2f} x direct)\n",
         o.messages, o.messages / outbox, outbox, o.workers, outbox / direct);
    if (o.backlog > 0) {
      auto start = steady_clock::now();
      Enqueue(store, project_id, usid, "later", o.backlog,
              clock.SystemNow() + std::chrono::hours(24));
      Line("backlog  {:>7} messages queued for tomorrow in {:.2f} s (setup)\n", o.backlog,
           Seconds(steady_clock::now() - start));
      double large = OutboxPhase(store, clock, project_id, usid, "backlog", o);
      Line(
          "backlog  {:>7} messages in {:6.2f} s  {:>7.0f}/s  ({} workers; {:.2f} x direct) with "
          "{} more queued\n",
          o.messages, o.messages / large, large, o.workers, large / direct, o.backlog);
    }
  }
  return 0;
}

}  // namespace
}  // namespace xoal::bench

int main(int argc, char** argv) {
  xoal::bench::BenchOptions o;
  bool quick = false;
  CLI::App app{"outbox_bench: outbox throughput to a loopback SMTP sink, against direct sends"};
  app.add_option("--messages", o.messages, "messages per timed phase (default 20,000)");
  app.add_option("--backlog", o.backlog, "messages queued but not due in the last phase; 0: skip");
  app.add_option("--workers", o.workers, "outbox workers, and threads of the direct baseline");
  app.add_flag("--quick", quick, "smoke run: 500 messages, backlog 2,000");
  app.add_flag("--keep", o.keep, "keep the temp data dir");
  CLI11_PARSE(app, argc, argv);
  if (quick) {
    o.messages = 500;
    o.backlog = 2000;
  }
  return xoal::bench::Run(o);
}
