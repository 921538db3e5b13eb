// The outbox across a SIGKILL (SPEC "Messages and channels": a durable outbox; docs/messaging.md
// "Crashes"). Many messages are enqueued, the server is killed while it sends them to the SMTP
// sink, and restarted. Afterwards every enqueued idempotency key reached the sink at least once,
// no other key did, and a key arrived twice only when its message was `sending` at the kill (the
// restart re-sends those under the same key and counts a recovery on the message).
#include <atomic>
#include <cstdlib>
#include <map>
#include <set>
#include <thread>

#include "channels/testing/loopback.hpp"
#include "integration/messaging_fixture.hpp"

namespace xoal::testing {
namespace {

using MessagingCrashTest = MessagingTest;

constexpr int kDefaultMessages = 10000;
constexpr int kEnqueueThreads = 4;
constexpr std::chrono::seconds kDrainWait{240};

// XOAL_MESSAGING_CRASH_COUNT overrides how many messages the test sends.
int MessageCount() {
  const char* env = std::getenv("XOAL_MESSAGING_CRASH_COUNT");
  int n = env ? std::atoi(env) : 0;
  return n > 0 ? n : kDefaultMessages;
}

std::string KeyOf(int i) { return "crash-" + std::to_string(i); }

json::object MessageBody(const std::string& usid, int i) {
  return json::object{{"customer", json::object{{"usid", usid}}},
                      {"channel", "email"},
                      {"idempotency_key", KeyOf(i)},
                      {"transactional", true},
                      {"message", json::object{{"subject", "n {{ trigger.i }}"}, {"text", "body"}}},
                      {"data", json::object{{"i", i}}}};
}

// Every message of the project, by idempotency key.
std::map<std::string, json::value> AllMessages(HttpClient& http, const std::string& key) {
  std::map<std::string, json::value> out;
  std::string cursor;
  while (true) {
    HttpResponse r =
        http.Get("/api/v1/messages?limit=1000" + (cursor.empty() ? "" : "&cursor=" + cursor), key);
    EXPECT_TRUE(HasStatus(r, 200));
    for (const auto& m : DataOf(r)) out[Str(m, "idempotency_key")] = m;
    if (r.status != 200 || IsNullMember(r.json, "next_cursor")) return out;
    cursor = UrlEncode(Str(r.json, "next_cursor"));
  }
}

bool NoneLeft(HttpClient& http, const std::string& key) {
  for (std::string_view status : {"queued", "sending"}) {
    HttpResponse r = http.Get("/api/v1/messages?limit=1&status=" + std::string(status), key);
    if (r.status != 200 || !DataOf(r).empty()) return false;
  }
  return true;
}

TEST_F(MessagingCrashTest, EveryKeyArrivesAfterSigkillDuplicatesOnlyForSending) {
  const int n = MessageCount();
  auto started = std::chrono::steady_clock::now();
  // Phase 1: enqueue everything while the SMTP server refuses connections, so that the messages
  // wait out their back-off (the test clock stands still) instead of going out at once.
  json::object refused{{"from", "News <news@example.com>"},
                       {"smtp", json::object{{"host", "127.0.0.1"},
                                             {"port", channels::testing::ClosedLoopbackPort()},
                                             {"tls", "none"}}}};
  ASSERT_TRUE(HasStatus(http_->Put("/api/v1/channels/email", refused, key()), 200));
  std::string usid = Ann();
  std::atomic<int> next{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kEnqueueThreads; ++t) {
    threads.emplace_back([&] {
      auto client = NewClient();
      for (int i = next++; i < n; i = next++) {
        HttpResponse r = client->Post("/api/v1/messages", MessageBody(usid, i), key());
        if (r.status != 201) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
  auto enqueued = std::chrono::steady_clock::now();
  std::cout << "[ messaging crash ] enqueued " << n << " in "
            << std::chrono::duration<double>(enqueued - started).count() << " s" << std::endl;

  // Phase 2: point email at the sink, make everything due, and kill the server mid-way.
  ConfigureEmail();
  AdvanceClock(std::chrono::hours(1));
  auto deadline = std::chrono::steady_clock::now() + kDrainWait;
  while (static_cast<int>(smtp_.messages().size()) < n / 2 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  int at_kill = static_cast<int>(smtp_.messages().size());
  xoal_.Kill();
  ASSERT_LT(at_kill, n) << "everything was sent before the kill; the test proves nothing";

  // Phase 3: restart; the interrupted attempts are re-sent, the rest goes out.
  ASSERT_TRUE(xoal_.Start());
  http_ = NewClient();
  // The new process's test clock starts again from the real time, before the back-offs of the
  // messages the first one left queued.
  AdvanceClock(std::chrono::hours(2));
  while (!NoneLeft(*http_, key()) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(NoneLeft(*http_, key())) << "the outbox did not drain in time";

  auto messages = AllMessages(*http_, key());
  auto counts = smtp_.IdempotencyKeyCounts();
  std::set<std::string> expected;
  for (int i = 0; i < n; ++i) expected.insert(KeyOf(i));
  std::set<std::string> arrived;
  int duplicates = 0;
  int recovered = 0;
  for (const auto& [k, count] : counts) {
    arrived.insert(k);
    if (count > 1) {
      ++duplicates;
      EXPECT_NE(JsonAt(messages[k], "/recoveries"), "0")
          << k << " arrived " << count << " times but was not sending at the kill";
    }
  }
  for (const auto& [k, m] : messages) {
    EXPECT_EQ(Str(m, "status"), "sent") << k;
    if (JsonAt(m, "/recoveries") != "0") ++recovered;
  }
  EXPECT_EQ(arrived, expected);
  EXPECT_EQ(messages.size(), static_cast<size_t>(n));
  EXPECT_LE(duplicates, recovered);
  auto seconds = [](auto d) { return std::chrono::duration<double>(d).count(); };
  std::cout << "[ messaging crash ] messages=" << n << " sent_before_kill=" << at_kill
            << " sending_at_kill=" << recovered << " duplicates_at_sink=" << duplicates
            << " enqueue_s=" << seconds(enqueued - started)
            << " total_s=" << seconds(std::chrono::steady_clock::now() - started) << std::endl;
  RecordProperty("sending_at_kill", recovered);
  RecordProperty("duplicates_at_sink", duplicates);
}

}  // namespace
}  // namespace xoal::testing
