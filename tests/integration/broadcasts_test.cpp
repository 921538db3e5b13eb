// Broadcasts over a real `xoal serve --test-clock` and the SMTP sink: the API's validation and
// state rules, delivery at 09:00 local time, throttling, cancelling halfway, and skipped counts.
#include <map>
#include <set>

#include "integration/broadcasts_fixture.hpp"

namespace xoal::testing {
namespace {

using std::chrono::minutes;

TEST_F(BroadcastsTest, RejectsInvalidBodiesNamingTheField) {
  std::string segment = ManualSegment(MakeCustomers(1));
  auto expect_invalid = [&](json::object body, std::string_view field) {
    EXPECT_TRUE(IsError(http_->Post("/api/v1/broadcasts", body, key()), 422, "invalid", field));
  };
  json::object good = EmailBroadcast(segment);

  json::object b = good;
  b.erase("name");
  expect_invalid(b, "name");
  b = good;
  b["segment_id"] = "seg_nope";
  expect_invalid(b, "segment_id");
  b = good;
  b["channel"] = "fax";
  expect_invalid(b, "channel");
  b = good;
  b["message"] = "hi";
  expect_invalid(b, "message");
  b = good;
  b["message"].as_object()["subject"] = "{% if %}";
  expect_invalid(b, "message.subject");
  // Marketing email without an unsubscribe link of its own is valid: the outbox adds Xoal's.
  b = good;
  b["conditions"] = json::object{{"attribute", "plan"}, {"op", "nope"}, {"value", 1}};
  expect_invalid(b, "conditions.op");
  b = good;
  b["schedule"] = json::object{{"local_time", "25:00"}, {"date", "2026-12-24"}};
  expect_invalid(b, "schedule.local_time");
  b = good;
  b["schedule"] = json::object{{"at", "2000-01-01T00:00:00Z"}};
  expect_invalid(b, "schedule.at");
  b = good;
  b["throttle_per_minute"] = 0;
  expect_invalid(b, "throttle_per_minute");
}

// The segment API refuses conditions that read an unknown segment; a broadcast's audience
// conditions are the same shape and must be refused too, on POST and on PATCH.
TEST_F(BroadcastsTest, RejectsConditionsReadingAnUnknownSegment) {
  std::string segment = ManualSegment(MakeCustomers(1));
  json::object b = EmailBroadcast(segment);
  b["conditions"] = json::object{{"segment", "seg_nope"}};
  EXPECT_TRUE(IsError(http_->Post("/api/v1/broadcasts", b, key()), 422, "invalid", "conditions"));

  auto created = http_->Post("/api/v1/broadcasts", EmailBroadcast(segment), key());
  ASSERT_EQ(created.status, 201) << created.body;
  std::string id(created.json.at("id").as_string());
  json::object patch{
      {"conditions", json::object{{"any", json::array{json::object{{"segment", "seg_nope"}}}}}}};
  EXPECT_TRUE(IsError(http_->Patch("/api/v1/broadcasts/" + id, patch, key()), 422, "invalid",
                      "conditions"));
}

// A misspelt member must not be dropped silently: "throttle_per_min" would send unthrottled.
TEST_F(BroadcastsTest, RejectsUnknownMembersNamingThem) {
  std::string segment = ManualSegment(MakeCustomers(1));
  json::object b = EmailBroadcast(segment);
  b["throttle_per_min"] = 10;
  EXPECT_TRUE(
      IsError(http_->Post("/api/v1/broadcasts", b, key()), 422, "invalid", "throttle_per_min"));
  std::string id = CreateBroadcast(EmailBroadcast(segment));
  EXPECT_TRUE(IsError(
      http_->Patch("/api/v1/broadcasts/" + id, json::object{{"throttle_per_min", 10}}, key()), 422,
      "invalid", "throttle_per_min"));
}

// Review 5: the broadcast's message is checked by the Messages API's function: an unknown
// member (a misspelt transactional would send marketing mail) is refused naming its path, on
// POST and on PATCH.
TEST_F(BroadcastsTest, RejectsUnknownOrMistypedMessageMembersNamingThePath) {
  std::string segment = ManualSegment(MakeCustomers(1));
  json::object b = EmailBroadcast(segment);
  b["message"].as_object()["transactionnal"] = true;
  json::object number = EmailBroadcast(segment);
  number["message"].as_object()["subject"] = 5;
  std::string id = CreateBroadcast(EmailBroadcast(segment));

  EXPECT_TRUE(IsError(http_->Post("/api/v1/broadcasts", b, key()), 422, "invalid",
                      "message.transactionnal"));
  EXPECT_TRUE(
      IsError(http_->Post("/api/v1/broadcasts", number, key()), 422, "invalid", "message.subject"));
  EXPECT_TRUE(IsError(
      http_->Patch("/api/v1/broadcasts/" + id, json::object{{"message", b["message"]}}, key()), 422,
      "invalid", "message.transactionnal"));
}

TEST_F(BroadcastsTest, FollowsTheStatusRules) {
  std::string segment = ManualSegment(MakeCustomers(3));
  json::object body = EmailBroadcast(segment);
  body["throttle_per_minute"] = 1;
  std::string id = CreateBroadcast(body);

  json::value draft = GetBroadcast(id);
  EXPECT_EQ(Str(draft, "status"), "draft");
  EXPECT_EQ(Str(draft, "segment_id"), segment);
  EXPECT_TRUE(IsError(http_->Get("/api/v1/broadcasts/bc_unknown", key()), 404, "not_found"));
  EXPECT_TRUE(IsError(Act(id, "cancel"), 409, "conflict"));
  EXPECT_TRUE(IsError(Act(id, "schedule"), 422, "invalid", "schedule"));
  HttpResponse renamed =
      http_->Patch("/api/v1/broadcasts/" + id, json::object{{"name", "Renamed"}}, key());
  EXPECT_TRUE(HasStatus(renamed, 200));
  EXPECT_EQ(Str(renamed.json, "name"), "Renamed");
  HttpResponse listed = http_->Get("/api/v1/broadcasts", key());
  EXPECT_EQ(Column(listed, "id"), std::vector<std::string>{id});

  HttpResponse sending = Act(id, "send");
  EXPECT_TRUE(HasStatus(sending, 200));
  EXPECT_EQ(Str(sending.json, "status"), "sending");
  WaitBroadcast(
      id, [](const json::value& b) { return CountOf(b, "enqueued") == 1; }, "1 enqueued");
  EXPECT_TRUE(IsError(http_->Patch("/api/v1/broadcasts/" + id, json::object{{"name", "x"}}, key()),
                      409, "conflict", "status"));
  EXPECT_TRUE(IsError(Act(id, "send"), 409, "conflict"));
  EXPECT_TRUE(IsError(http_->Delete("/api/v1/broadcasts/" + id, key()), 409, "conflict"));

  EXPECT_EQ(Str(Act(id, "cancel").json, "status"), "cancelled");
  EXPECT_TRUE(IsError(Act(id, "cancel"), 409, "conflict"));
  EXPECT_TRUE(HasStatus(http_->Delete("/api/v1/broadcasts/" + id, key()), 200));
  EXPECT_TRUE(IsError(http_->Get("/api/v1/broadcasts/" + id, key()), 404, "not_found"));
}

// The SPEC's example: 09:00 local on 2026-12-24. Auckland is UTC+13 then (20:00Z the day
// before), Los Angeles UTC-8 (17:00Z), and a customer without a timezone follows the project's
// Europe/Paris (UTC+1, 08:00Z). Each message must be created exactly at its customer's instant.
TEST_F(BroadcastsTest, DeliversAtNineLocalInEachCustomersTimezone) {
  EXPECT_TRUE(HasStatus(
      http_->Patch("/api/v1/project", json::object{{"timezone", "Europe/Paris"}}, key()), 200));
  SetClock("2026-12-23T00:00:00Z");
  std::string auckland =
      CreateCustomer(json::object{{"email", "akl@example.com"}, {"timezone", "Pacific/Auckland"}});
  std::string los_angeles = CreateCustomer(
      json::object{{"email", "lax@example.com"}, {"timezone", "America/Los_Angeles"}});
  std::string paris = CreateCustomer(json::object{{"email", "cdg@example.com"}});
  json::object body = EmailBroadcast(ManualSegment({auckland, los_angeles, paris}));
  body["schedule"] = json::object{{"local_time", "09:00"}, {"date", "2026-12-24"}};
  std::string id = CreateBroadcast(body);
  json::value scheduled = GetBroadcast(id);
  EXPECT_EQ(Str(scheduled, "status"), "scheduled");
  EXPECT_EQ(Str(scheduled, "start_at"), "2026-12-23T19:00:00.000Z");  // 09:00 at UTC+14

  const std::vector<std::pair<std::string, std::string>> arrivals = {
      {"2026-12-23T20:00:00.000Z", "akl@example.com"},
      {"2026-12-24T08:00:00.000Z", "cdg@example.com"},
      {"2026-12-24T17:00:00.000Z", "lax@example.com"}};
  for (size_t i = 0; i < arrivals.size(); ++i) {
    SetClock(arrivals[i].first);
    WaitSinkCount(i + 1);
    ASSERT_EQ(smtp_.messages().size(), i + 1) << "more than one customer was due";
    EXPECT_EQ(smtp_.messages()[i].rcpt_to, std::vector<std::string>{arrivals[i].second});
  }

  json::value done = WaitBroadcast(
      id, [](const json::value& b) { return CountOf(b, "sent") == 3; }, "3 sent");
  EXPECT_EQ(Str(done, "status"), "sent");
  std::map<std::string, std::string> created_by_usid;
  for (const auto& m : AllMessages()) created_by_usid[Str(m, "usid")] = Str(m, "created_at");
  EXPECT_EQ(created_by_usid[auckland], arrivals[0].first);
  EXPECT_EQ(created_by_usid[paris], arrivals[1].first);
  EXPECT_EQ(created_by_usid[los_angeles], arrivals[2].first);
}

// 10 recipients at 4 a minute: 4 messages at the start, 4 a minute later, 2 a minute after.
TEST_F(BroadcastsTest, ThrottlesToNPerMinuteOnTheClock) {
  SetClock("2026-12-01T10:00:00Z");
  json::object body = EmailBroadcast(ManualSegment(MakeCustomers(10)));
  body["throttle_per_minute"] = 4;
  std::string id = CreateBroadcast(body);
  ASSERT_TRUE(HasStatus(Act(id, "send"), 200));

  WaitSinkCount(4);
  AdvanceClock(minutes(1));
  WaitSinkCount(8);
  AdvanceClock(minutes(1));
  WaitSinkCount(10);
  json::value done = WaitBroadcast(
      id, [](const json::value& b) { return CountOf(b, "sent") == 10; }, "10 sent");
  EXPECT_EQ(Str(done, "status"), "sent");

  std::map<std::string, int> created_per_minute;
  for (const auto& m : AllMessages()) ++created_per_minute[Str(m, "created_at")];
  EXPECT_EQ(created_per_minute, (std::map<std::string, int>{{"2026-12-01T10:00:00.000Z", 4},
                                                            {"2026-12-01T10:01:00.000Z", 4},
                                                            {"2026-12-01T10:02:00.000Z", 2}}));
  EXPECT_EQ(smtp_.messages().size(), 10u);
}

TEST_F(BroadcastsTest, CancelHalfwayEnqueuesNothingMore) {
  SetClock("2026-12-01T10:00:00Z");
  json::object body = EmailBroadcast(ManualSegment(MakeCustomers(10)));
  body["throttle_per_minute"] = 5;
  std::string id = CreateBroadcast(body);
  ASSERT_TRUE(HasStatus(Act(id, "send"), 200));
  WaitSinkCount(5);

  HttpResponse cancelled = Act(id, "cancel");
  EXPECT_TRUE(HasStatus(cancelled, 200));
  EXPECT_EQ(Str(cancelled.json, "status"), "cancelled");
  AdvanceClock(minutes(5));
  // A second broadcast delivered after the clock moved proves the engine ran a round since.
  std::string probe = CreateBroadcast(EmailBroadcast(
      ManualSegment({CreateCustomer(json::object{{"email", "probe@example.com"}})})));
  ASSERT_TRUE(HasStatus(Act(probe, "send"), 200));
  WaitBroadcast(
      probe, [](const json::value& b) { return CountOf(b, "sent") == 1; }, "probe");

  json::value after = WaitBroadcast(
      id, [](const json::value& b) { return CountOf(b, "sent") == 5; }, "5 sent");
  EXPECT_EQ(CountOf(after, "recipients"), 10);
  EXPECT_EQ(CountOf(after, "enqueued"), 5);
  EXPECT_EQ(CountOf(after, "cancelled"), 5);
  EXPECT_EQ(CountOf(after, "pending"), 0);
  EXPECT_EQ(smtp_.messages().size(), 6u);
}

// Two recipients merged into one profile after the snapshot get one message: the second row
// resolves to the survivor, whose key the outbox already has.
TEST_F(BroadcastsTest, RecipientsMergedAfterTheSnapshotGetOneMessage) {
  SetClock("2026-12-01T10:00:00Z");
  std::string primary = CreateCustomer(json::object{{"email", "one@example.com"}});
  std::string secondary = CreateCustomer(json::object{{"email", "two@example.com"}});
  json::object body = EmailBroadcast(ManualSegment({primary, secondary}));
  body["throttle_per_minute"] = 1;
  std::string id = CreateBroadcast(body);
  ASSERT_TRUE(HasStatus(Act(id, "send"), 200));
  WaitSinkCount(1);

  EXPECT_TRUE(HasStatus(http_->Post("/api/v1/customers/merge",
                                    json::object{{"primary", json::object{{"usid", primary}}},
                                                 {"secondary", json::object{{"usid", secondary}}}},
                                    key()),
                        200));
  AdvanceClock(minutes(1));

  json::value done = WaitBroadcast(
      id, [](const json::value& b) { return Str(b, "status") == "sent"; }, "sent");
  EXPECT_EQ(CountOf(done, "recipients"), 2);
  EXPECT_EQ(CountOf(done, "enqueued"), 2);
  EXPECT_EQ(CountOf(done, "sent"), 1);
  std::vector<json::value> messages = AllMessages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(Str(messages[0], "usid"), primary);
  EXPECT_EQ(smtp_.message_count(), 1u);
}

// The outbox decides send or skip (messaging/policy.hpp); the broadcast counts its decisions.
TEST_F(BroadcastsTest, CountsSkippedRecipientsByReason) {
  EXPECT_TRUE(
      HasStatus(http_->Patch("/api/v1/project",
                             json::object{{"frequency_cap", json::object{{"per_day", 1}}}}, key()),
                200));
  std::vector<std::string> usids = MakeCustomers(3);
  usids.push_back(CreateCustomer(json::object{{"user_id", "no-email-1"}}));
  usids.push_back(CreateCustomer(json::object{{"user_id", "no-email-2"}}));
  usids.push_back(
      CreateCustomer(json::object{{"email", "optout@example.com"}, {"email_subscribed", false}}));
  std::string capped = CreateCustomer(json::object{{"email", "capped@example.com"}});
  usids.push_back(capped);
  usids.push_back(CreateCustomer(json::object{{"email", "blocked@example.com"}}));
  EXPECT_TRUE(HasStatus(
      http_->Post("/api/v1/suppressions",
                  json::object{{"address", "blocked@example.com"}, {"reason", "manual"}}, key()),
      201));
  json::object earlier = EmailBroadcast("");
  EnqueueOrFail(json::object{{"customer", json::object{{"usid", capped}}},
                             {"channel", "email"},
                             {"message", earlier["message"]}});
  WaitSinkCount(1);

  std::string id = CreateBroadcast(EmailBroadcast(ManualSegment(usids)));
  ASSERT_TRUE(HasStatus(Act(id, "send"), 200));

  json::value done = WaitBroadcast(
      id, [](const json::value& b) { return CountOf(b, "sent") == 3; }, "3 sent");
  EXPECT_EQ(Str(done, "status"), "sent");
  EXPECT_EQ(CountOf(done, "recipients"), 8);
  EXPECT_EQ(JsonAt(done, "/counts/skipped/no_address"), "2");
  EXPECT_EQ(JsonAt(done, "/counts/skipped/unsubscribed"), "1");
  EXPECT_EQ(JsonAt(done, "/counts/skipped/frequency_cap"), "1");
  EXPECT_EQ(JsonAt(done, "/counts/skipped/suppressed"), "1");
  EXPECT_EQ(CountOf(done, "failed"), 0);
  EXPECT_EQ(CountOf(done, "pending"), 0);
  EXPECT_EQ(smtp_.messages().size(), 4u);  // the 3 sent and the earlier message
}

// Extra conditions narrow the segment at send time, with the one condition evaluator.
TEST_F(BroadcastsTest, NarrowsTheSegmentWithConditions) {
  std::vector<std::string> pro = MakeCustomers(2, json::object{{"plan", "pro"}});
  std::string free = CreateCustomer(json::object{{"email", "free@example.com"}, {"plan", "free"}});
  std::vector<std::string> all = pro;
  all.push_back(free);
  json::object body = EmailBroadcast(ManualSegment(all));
  body["conditions"] = json::object{{"attribute", "plan"}, {"op", "eq"}, {"value", "pro"}};
  std::string id = CreateBroadcast(body);
  ASSERT_TRUE(HasStatus(Act(id, "send"), 200));

  json::value done = WaitBroadcast(
      id, [](const json::value& b) { return Str(b, "status") == "sent"; }, "sent");
  EXPECT_EQ(CountOf(done, "recipients"), 2);
  std::set<std::string> usids;
  for (const auto& m : AllMessages()) usids.insert(Str(m, "usid"));
  EXPECT_EQ(usids, std::set<std::string>(pro.begin(), pro.end()));
}

}  // namespace
}  // namespace xoal::testing
