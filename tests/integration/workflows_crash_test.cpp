// Workflows across SIGKILLs (SPEC "Workflows": durable runs; docs/workflows.md "Exactly-once side
// effects"). 5,000 runs go through a tag, a delay, an email and a second tag while the server is
// killed twice mid-way and restarted. Afterwards every run completed, its log holds each step
// exactly once in order, the outbox holds exactly one message per run, and the SMTP sink got
// every one of them exactly once: the email channel has the sink's lookup API, so a message the
// outbox was sending at a kill is looked up before it is sent again (docs/messaging.md).
#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>
#include <thread>

#include "integration/messaging_fixture.hpp"

namespace xoal::testing {
namespace {

using WorkflowsCrashTest = MessagingTest;

constexpr int kDefaultRuns = 5000;
constexpr int kBatch = 1000;
constexpr std::chrono::seconds kWait{120};

// XOAL_WORKFLOWS_CRASH_RUNS overrides how many runs the test starts.
int RunCount() {
  const char* env = std::getenv("XOAL_WORKFLOWS_CRASH_RUNS");
  int n = env ? std::atoi(env) : 0;
  return n > 0 ? n : kDefaultRuns;
}

// Every item of every page of `path` (a list endpoint taking limit and cursor).
std::vector<json::value> AllPages(HttpClient& http, const std::string& path,
                                  const std::string& key) {
  std::vector<json::value> out;
  std::string cursor;
  while (true) {
    std::string sep = path.find('?') == std::string::npos ? "?" : "&";
    HttpResponse r =
        http.Get(path + sep + "limit=1000" + (cursor.empty() ? "" : "&cursor=" + cursor), key);
    EXPECT_TRUE(HasStatus(r, 200));
    for (const auto& v : DataOf(r)) out.push_back(v);
    if (r.status != 200 || IsNullMember(r.json, "next_cursor")) return out;
    cursor = UrlEncode(Str(r.json, "next_cursor"));
  }
}

TEST_F(WorkflowsCrashTest, EveryRunDoesEveryStepOnceAcrossSigkills) {
  const int n = RunCount();
  auto started = std::chrono::steady_clock::now();
  ConfigureEmailWithLookup();
  HttpResponse created = http_->Post("/api/v1/workflows", json::parse(R"({"name": "Crash",
      "trigger": {"type": "api", "create_customers": true}, "start": "first",
      "steps": {
        "first": {"type": "add_tag", "tag": "first", "next": "wait"},
        "wait": {"type": "delay", "duration": {"hours": 1}, "next": "mail"},
        "mail": {"type": "send_email", "message": {"subject": "For {{ customer.email }}",
                 "text": "t", "transactional": true}, "next": "last"},
        "last": {"type": "add_tag", "tag": "last"}}})"),
                                     key());
  ASSERT_TRUE(HasStatus(created, 201));
  std::string id = Str(created.json, "id");
  ASSERT_TRUE(HasStatus(http_->Post("/api/v1/workflows/" + id + "/activate", {}, key()), 200));
  for (int from = 0; from < n; from += kBatch) {
    json::array customers;
    for (int i = from; i < std::min(n, from + kBatch); ++i) {
      customers.push_back(json::object{{"email", "c" + std::to_string(i) + "@example.com"}});
    }
    HttpResponse r = http_->Post("/api/v1/workflows/" + id + "/trigger",
                                 json::object{{"customers", std::move(customers)}}, key());
    ASSERT_TRUE(HasStatus(r, 200));
    ASSERT_EQ(JsonAt(r.json, "/skipped"), "[]");
  }

  // Every run waits on its delay before the clock moves, so all wake within the moves below.
  auto all_waiting = [&] {
    auto runs = AllPages(*http_, "/api/v1/workflows/" + id + "/runs?status=active", key());
    return runs.size() == static_cast<size_t>(n) &&
           std::all_of(runs.begin(), runs.end(),
                       [](const json::value& r) { return JsonAt(r, "/waiting") == "true"; });
  };
  auto deadline = std::chrono::steady_clock::now() + kWait;
  while (!all_waiting() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(all_waiting());

  // Two kills while the runs wake from their delay and send: after a third and two thirds.
  int kills = 0;
  std::vector<int> at_kills;
  for (int third : {1, 2}) {
    AdvanceClock(std::chrono::hours(2));
    while (static_cast<int>(smtp_.IdempotencyKeyCounts().size()) < n * third / 3 &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    at_kills.push_back(static_cast<int>(smtp_.IdempotencyKeyCounts().size()));
    xoal_.Kill();
    ++kills;
    ASSERT_LT(at_kills.back(), n) << "everything was sent before the kill; it proves nothing";
    ASSERT_TRUE(xoal_.Start());
    http_ = NewClient();
  }
  // The restarted server's test clock starts from the real time again: move it past the delays.
  AdvanceClock(std::chrono::hours(2));
  auto completed = [&] {
    HttpResponse r = http_->Get("/api/v1/workflows/" + id + "/analytics", key());
    return JsonAt(r.json, "/completed") == std::to_string(n);
  };
  while (!completed() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(completed()) << "the runs did not complete in time";
  while (static_cast<int>(smtp_.IdempotencyKeyCounts().size()) < n &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  std::vector<json::value> logs = AllPages(*http_, "/api/v1/workflows/" + id + "/logs", key());
  ASSERT_EQ(logs.size(), static_cast<size_t>(n));
  std::set<std::string> message_ids;
  for (const auto& run : logs) {
    ASSERT_EQ(Str(run, "status"), "completed");
    std::string steps;
    for (const auto& s : run.at("steps").as_array())
      steps += Str(s, "step") + ":" + Str(s, "outcome") + " ";
    EXPECT_EQ(steps, "first:done wait:done mail:sent last:done ") << Str(run, "id");
    message_ids.insert(JsonAt(run, "/steps/2/detail/message_id"));
  }
  EXPECT_EQ(message_ids.size(), static_cast<size_t>(n));
  std::vector<json::value> messages = AllPages(*http_, "/api/v1/messages", key());
  EXPECT_EQ(messages.size(), static_cast<size_t>(n));
  auto counts = smtp_.IdempotencyKeyCounts();
  EXPECT_EQ(counts.size(), static_cast<size_t>(n));
  int duplicates = 0;
  for (const auto& [k, c] : counts) {
    EXPECT_EQ(c, 1) << k << " arrived " << c << " times";
    duplicates += c > 1 ? 1 : 0;
  }
  int reconciled = 0;
  for (const auto& m : messages) {
    reconciled += JsonAt(m, "/last_answer/outcome") == "\"reconciled\"" ? 1 : 0;
  }
  std::cout << "[ workflows crash ] runs=" << n << " kills=" << kills
            << " sent_at_kills=" << at_kills[0] << "," << at_kills[1]
            << " sink_keys=" << counts.size() << " sink_duplicates=" << duplicates
            << " reconciled_by_lookup=" << reconciled << " total_s="
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()
            << std::endl;
}

}  // namespace
}  // namespace xoal::testing
