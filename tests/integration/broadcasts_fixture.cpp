#include "integration/broadcasts_fixture.hpp"

#include <thread>

namespace xoal::testing {
namespace {

constexpr std::chrono::milliseconds kPoll{20};
constexpr size_t kMembersPerRequest = 1000;

}  // namespace

int64_t CountOf(const json::value& broadcast, std::string_view name) {
  const json::value* counts = Member(broadcast, "counts");
  const json::value* v = counts ? Member(*counts, name) : nullptr;
  return v && v->is_int64() ? v->get_int64() : -1;
}

void BroadcastsTest::SetUp() {
  MessagingTest::SetUp();
  if (HasFatalFailure()) return;
  ConfigureEmail();
}

std::string BroadcastsTest::ManualSegment(const std::vector<std::string>& usids) {
  HttpResponse r = http_->Post("/api/v1/segments",
                               json::object{{"name", "audience"}, {"type", "manual"}}, key());
  EXPECT_TRUE(HasStatus(r, 201));
  std::string id = Str(r.json, "id");
  for (size_t i = 0; i < usids.size(); i += kMembersPerRequest) {
    json::array page;
    for (size_t j = i; j < std::min(usids.size(), i + kMembersPerRequest); ++j) {
      page.push_back(json::value(usids[j]));
    }
    EXPECT_TRUE(HasStatus(
        http_->Post("/api/v1/segments/" + id + "/customers", json::object{{"usids", page}}, key()),
        200));
  }
  return id;
}

std::vector<std::string> BroadcastsTest::MakeCustomers(int n, const json::object& extra) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    json::object body = extra;
    body["email"] = "cust-" + std::to_string(i) + "@example.com";
    body["first_name"] = "C" + std::to_string(i);
    out.push_back(CreateCustomer(body));
  }
  return out;
}

json::object BroadcastsTest::EmailBroadcast(const std::string& segment_id) {
  return json::object{{"name", "Winter news"},
                      {"segment_id", segment_id},
                      {"channel", "email"},
                      {"message", json::object{{"subject", "Hello {{ customer.first_name }}"},
                                               {"text", "News for {{ customer.first_name }}."},
                                               {"unsubscribe_url", "https://example.com/unsub"}}}};
}

std::string BroadcastsTest::CreateBroadcast(const json::object& body) {
  HttpResponse r = http_->Post("/api/v1/broadcasts", body, key());
  EXPECT_TRUE(HasStatus(r, 201));
  return Str(r.json, "id");
}

HttpResponse BroadcastsTest::Act(const std::string& id, const std::string& action,
                                 const json::object& body) {
  return http_->Post("/api/v1/broadcasts/" + id + "/" + action, body, key());
}

json::value BroadcastsTest::GetBroadcast(const std::string& id) {
  HttpResponse r = http_->Get("/api/v1/broadcasts/" + id, key());
  EXPECT_TRUE(HasStatus(r, 200));
  return r.json;
}

json::value BroadcastsTest::WaitBroadcast(const std::string& id,
                                          const std::function<bool(const json::value&)>& pred,
                                          std::string_view what) {
  auto deadline = std::chrono::steady_clock::now() + kDeliveryWait;
  json::value b;
  while (true) {
    b = GetBroadcast(id);
    if (pred(b)) return b;
    if (std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "timed out waiting for " << what << ": " << json::serialize(b);
      return b;
    }
    // Polling another process: there is nothing in it to wait on.
    std::this_thread::sleep_for(kPoll);
  }
}

void BroadcastsTest::WaitSinkCount(size_t n) {
  auto deadline = std::chrono::steady_clock::now() + kDeliveryWait;
  while (smtp_.message_count() < n) {
    if (std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "the sink has " << smtp_.message_count() << " messages, expected " << n;
      return;
    }
    std::this_thread::sleep_for(kPoll);
  }
}

void BroadcastsTest::SetClock(const std::string& iso) {
  EXPECT_TRUE(HasStatus(http_->Post("/_test/clock", json::object{{"set", iso}}), 200));
}

std::vector<json::value> BroadcastsTest::AllMessages() {
  std::vector<json::value> out;
  std::string cursor;
  while (true) {
    std::string target = "/api/v1/messages?limit=1000";
    if (!cursor.empty()) target += "&cursor=" + cursor;
    HttpResponse r = http_->Get(target, key());
    EXPECT_TRUE(HasStatus(r, 200));
    for (const auto& m : DataOf(r)) out.push_back(m);
    const json::value* next = Member(r.json, "next_cursor");
    if (!next || !next->is_string()) return out;
    cursor = std::string(next->get_string());
  }
}

}  // namespace xoal::testing
