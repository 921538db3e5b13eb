// Ingestion across crashes (SPEC, Ingestion API: "the response is sent only after the accepted
// messages are durable"; Events: a messageId seen before is a duplicate "however often it is
// retried"). Senders retry every batch until it is answered, as CDP webhooks do, while the
// server is SIGKILLed and restarted; afterwards every message is stored exactly once.
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "integration/ingest_fixture.hpp"

namespace xoal::testing {
namespace {

using IngestCrashTest = IngestTest;

constexpr std::string_view kSegment = "/ingest/v1/segment/event";

json::array MakeBatch(int writer, int batch, int size) {
  json::array items;
  for (int i = 0; i < size; ++i) {
    std::string id = "crash-" + std::to_string(writer) + "-" + std::to_string(batch) + "-" +
                     std::to_string(i);
    items.push_back(json::object{{"type", i % 4 == 0 ? "identify" : "track"},
                                 {"messageId", id},
                                 {"userId", "crash-user-" + std::to_string((batch + i) % 7)},
                                 {"event", "Crash Test"},
                                 {"properties", json::object{{"n", i}}}});
  }
  return items;
}

TEST_F(IngestCrashTest, EveryAcknowledgedMessageIsStoredOnceAcrossSigkills) {
  constexpr int kWriters = 3;
  constexpr int kBatchesPerWriter = 40;
  constexpr int kBatchSize = 10;
  constexpr int kKills = 3;
  constexpr int kAcksBetweenKills = 8;  // batches answered after a (re)start before the next kill
  constexpr int kMaxAttemptsPerBatch = 50;
  constexpr std::chrono::seconds kMaxWait{60};

  std::mutex mu;
  std::condition_variable cv;
  uint16_t port = xoal_.port();  // guarded by mu: where writers connect; 0 while down
  int generation = 0;            // guarded by mu: bumped at every restart
  int acked_batches = 0;         // guarded by mu
  int answered_with_duplicates = 0;  // guarded by mu: retries the server had already applied
  std::vector<std::string> errors;   // guarded by mu: answers that break the contract
  std::atomic<bool> give_up{false};

  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      std::unique_ptr<HttpClient> client;
      int seen_generation = -1;
      for (int b = 0; b < kBatchesPerWriter && !give_up.load(); ++b) {
        json::array batch = MakeBatch(w, b, kBatchSize);
        bool acked = false;
        for (int attempt = 0; attempt < kMaxAttemptsPerBatch && !acked && !give_up; ++attempt) {
          {
            std::unique_lock lock(mu);
            if (!cv.wait_for(lock, kMaxWait, [&] { return port != 0 || give_up.load(); })) {
              errors.push_back("the server did not come back");
              give_up = true;
            }
            if (give_up) {
              return;
            }
            if (!client || seen_generation != generation) {
              client = std::make_unique<HttpClient>("127.0.0.1", port);
              seen_generation = generation;
            }
          }
          HttpResponse r = client->Post(kSegment, batch, alpha_.ingestion_key);
          std::lock_guard lock(mu);
          if (r.status == 0) {
            // The server died under this request: it may or may not have applied the batch.
            // Send it again, after the restart when the main thread has taken the port away.
            continue;
          }
          IngestAnswer a = ReadIngestAnswer(r);
          if (r.status != 200 || !a.rejected.empty() || a.accepted + a.duplicates != kBatchSize) {
            errors.push_back("batch " + std::to_string(w) + "/" + std::to_string(b) + ": " +
                             ::testing::PrintToString(r));
            give_up = true;
            cv.notify_all();
            return;
          }
          if (a.duplicates > 0) {
            ++answered_with_duplicates;
          }
          acked = true;
          ++acked_batches;
          cv.notify_all();
        }
        if (!acked && !give_up) {
          std::lock_guard lock(mu);
          errors.push_back("batch " + std::to_string(w) + "/" + std::to_string(b) +
                           " was never answered");
          give_up = true;
          cv.notify_all();
        }
      }
    });
  }

  for (int kill = 0; kill < kKills && !give_up; ++kill) {
    {
      std::unique_lock lock(mu);
      int target = acked_batches + kAcksBetweenKills;
      cv.wait_for(lock, kMaxWait, [&] {
        return acked_batches >= target || acked_batches == kWriters * kBatchesPerWriter ||
               give_up.load();
      });
      port = 0;  // writers that fail from here on wait for the restart
    }
    xoal_.Kill();
    ASSERT_TRUE(xoal_.Start()) << "restart " << kill;
    std::lock_guard lock(mu);
    port = xoal_.port();
    ++generation;
    cv.notify_all();
  }
  for (auto& t : writers) {
    t.join();
  }

  ASSERT_TRUE(errors.empty()) << errors.front();
  ASSERT_EQ(acked_batches, kWriters * kBatchesPerWriter);
  http_ = NewClient();
  std::map<std::string, int> count;
  for (const auto& e : AllEvents()) {
    ++count[Str(e, "id")];
  }
  int missing = 0;
  int doubled = 0;
  for (int w = 0; w < kWriters; ++w) {
    for (int b = 0; b < kBatchesPerWriter; ++b) {
      for (const auto& item : MakeBatch(w, b, kBatchSize)) {
        std::string id = Str(item, "messageId");
        int n = count.count(id) ? count[id] : 0;
        missing += n == 0;
        doubled += n > 1;
        count.erase(id);
      }
    }
  }
  EXPECT_EQ(missing, 0) << "acknowledged messages lost";
  EXPECT_EQ(doubled, 0) << "messages stored more than once";
  EXPECT_TRUE(count.empty()) << "events nobody sent, e.g. " << count.begin()->first;
  // Sending everything again adds nothing.
  for (int w = 0; w < kWriters; ++w) {
    for (int b = 0; b < kBatchesPerWriter; ++b) {
      ASSERT_TRUE(IsIngestAnswer(Send(kSegment, MakeBatch(w, b, kBatchSize)), 0, kBatchSize))
          << "batch " << w << "/" << b;
    }
  }
  EXPECT_EQ(AllEvents().size(), static_cast<size_t>(kWriters * kBatchesPerWriter * kBatchSize));
  std::cerr << "[ info ] " << kKills << " kills; " << answered_with_duplicates
            << " retried batches were already (partly) applied\n";
}

}  // namespace
}  // namespace xoal::testing
