// Durability: data survives a clean restart, and no acknowledged write is lost to a SIGKILL
// (SPEC, Running it: "shuts down cleanly on SIGTERM without losing acknowledged work").
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "integration/integration_fixture.hpp"

namespace xoal::testing {
namespace {

using DurabilityTest = XoalTest;

TEST_F(DurabilityTest, DataSurvivesCleanRestart) {
  std::string usid = CreateCustomer({{"user_id", "u-1"},
                                     {"email", "ada@example.com"},
                                     {"tags", json::array{"VIP"}},
                                     {"attributes", json::object{{"plan", "pro"}}}});
  ASSERT_TRUE(HasStatus(
      http_->Post("/api/v1/fields",
                  json::object{{"entity", "customer"}, {"name", "age"}, {"type", "number"}}, key()),
      201));
  ASSERT_TRUE(HasStatus(
      http_->Post("/api/v1/companies", json::object{{"id", "acme"}, {"name", "Acme"}}, key()),
      201));
  ASSERT_LT(http_->Put("/api/v1/companies/acme/members/" + usid, json::object{}, key()).status,
            300);
  ASSERT_TRUE(
      HasStatus(http_->Patch("/api/v1/project", json::object{{"name", "renamed"}}, key()), 200));
  HttpResponse revoked_key = http_->Post(
      "/api/v1/api-keys", json::object{{"name", "gone"}, {"type", "management"}}, key());
  ASSERT_TRUE(HasStatus(revoked_key, 201));
  ASSERT_TRUE(
      HasStatus(http_->Delete("/api/v1/api-keys/" + Str(revoked_key.json, "id"), key()), 200));
  HttpResponse before = http_->Get("/api/v1/customers/" + usid, key());

  RestartServer();

  HttpResponse after = http_->Get("/api/v1/customers/" + usid, key());
  ASSERT_TRUE(HasStatus(after, 200));
  EXPECT_EQ(after.json, before.json);
  EXPECT_EQ(Str(http_->Get("/api/v1/fields/customer/age", key()).json, "type"), "number");
  EXPECT_EQ(Column(http_->Get("/api/v1/companies/acme/members", key()), "usid"),
            std::vector<std::string>{usid});
  EXPECT_EQ(Str(http_->Get("/api/v1/project", key()).json, "name"), "renamed");
  EXPECT_TRUE(
      IsError(http_->Get("/api/v1/project", Str(revoked_key.json, "key")), 401, "unauthenticated"));
  EXPECT_TRUE(HasStatus(http_->Get("/api/v1/project", alpha_.management_key), 200));
}

TEST_F(DurabilityTest, DeleteSurvivesCleanRestart) {
  std::string usid = CreateCustomer({{"user_id", "u-1"}});
  ASSERT_TRUE(HasStatus(http_->Delete("/api/v1/customers/" + usid, key()), 200));

  RestartServer();

  EXPECT_TRUE(IsError(http_->Get("/api/v1/customers/" + usid, key()), 404, "not_found"));
}

// Writers send creates over keep-alive connections while the server is SIGKILLed. Every create
// that was answered 2xx must be there after a restart; unanswered ones may or may not be.
TEST_F(DurabilityTest, AcknowledgedCreatesSurviveSigkill) {
  constexpr int kWriters = 4;
  constexpr int kMaxCreatesPerWriter = 2000;
  constexpr int kAcksBeforeKill = 150;
  constexpr std::chrono::seconds kMaxWait{60};

  struct Ack {
    std::string user_id;
    std::string usid;
  };
  std::mutex mu;
  std::condition_variable acked_cv;
  std::vector<Ack> acked;           // guarded by mu
  std::vector<std::string> errors;  // guarded by mu: non-2xx answers before the kill
  std::atomic<bool> killed{false};

  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      auto client = NewClient();
      auto deadline = std::chrono::steady_clock::now() + kMaxWait;
      for (int i = 0; i < kMaxCreatesPerWriter && std::chrono::steady_clock::now() < deadline;
           ++i) {
        std::string user_id = "kill-" + std::to_string(w) + "-" + std::to_string(i);
        HttpResponse r = client->Post(
            "/api/v1/customers",
            json::object{{"user_id", user_id}, {"attributes", json::object{{"n", i}}}}, key());
        std::lock_guard lock(mu);
        if (r.status == 200 || r.status == 201) {
          acked.push_back({user_id, Str(r.json, "usid")});
          acked_cv.notify_all();
          continue;
        }
        if (!killed.load()) {
          errors.push_back(user_id + ": " + ::testing::PrintToString(r));
          acked_cv.notify_all();
        }
        return;  // the server is gone (or failed): this writer is done
      }
    });
  }

  {
    std::unique_lock lock(mu);
    acked_cv.wait_for(lock, kMaxWait, [&] {
      return acked.size() >= static_cast<size_t>(kAcksBeforeKill) || !errors.empty();
    });
    killed.store(true);
  }
  xoal_.Kill();
  for (auto& t : writers) {
    t.join();
  }
  http_.reset();

  ASSERT_TRUE(errors.empty()) << "a create failed before the kill: " << errors.front();
  ASSERT_GE(acked.size(), static_cast<size_t>(kAcksBeforeKill))
      << "writers did not reach the kill point";
  ASSERT_TRUE(xoal_.Start());
  http_ = NewClient();

  int missing = 0;
  for (const Ack& ack : acked) {
    HttpResponse r = http_->Get("/api/v1/customers/lookup?user_id=" + ack.user_id, key());
    if (r.status != 200 || Str(r.json, "usid") != ack.usid) {
      ++missing;
      ADD_FAILURE() << "acknowledged create of " << ack.user_id << " (usid " << ack.usid
                    << ") lost: " << ::testing::PrintToString(r);
      if (missing >= 10) {
        break;
      }
    }
  }
  EXPECT_EQ(missing, 0) << "of " << acked.size() << " acknowledged creates";
  // The restarted server still takes writes.
  EXPECT_TRUE(HasStatus(
      http_->Post("/api/v1/customers", json::object{{"user_id", "after-kill"}}, key()), 201));
}

}  // namespace
}  // namespace xoal::testing
