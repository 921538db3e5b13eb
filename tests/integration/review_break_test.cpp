// Regression tests for the defects a second break-it review found: one test per finding, each
// against a real `xoal` over loopback, checking the status and body it answers.
#include "integration/ingest_fixture.hpp"

namespace xoal::testing {
namespace {

constexpr std::string_view kSegment = "/ingest/v1/segment/event";

class ReviewBreakTest : public IngestTest {};

// Times are kept as nanoseconds in 64 bits (1677-09-22 to 2262-04-11). A time outside that range
// used to wrap silently: "9999-12-31" (a common "never" sentinel) was stored as 1816-03-30.
TEST_F(ReviewBreakTest, TimesOutsideTheSupportedRangeAreRejectedNotWrapped) {
  HttpResponse iso = http_->Post(
      "/api/v1/customers",
      json::object{{"user_id", "far-1"}, {"joined_date", "9999-12-31T23:59:59Z"}}, key());
  HttpResponse early =
      http_->Post("/api/v1/customers",
                  json::object{{"user_id", "far-2"}, {"joined_date", "0001-01-01"}}, key());
  // 1e13 epoch milliseconds is in the year 2286.
  HttpResponse epoch =
      http_->Post("/api/v1/customers",
                  json::object{{"user_id", "far-3"}, {"joined_date", 10000000000000}}, key());
  HttpResponse in_range = http_->Post(
      "/api/v1/customers",
      json::object{{"user_id", "near"}, {"joined_date", "2200-01-01T00:00:00Z"}}, key());

  EXPECT_TRUE(IsError(iso, 422, "invalid", "joined_date"));
  EXPECT_TRUE(IsError(early, 422, "invalid", "joined_date"));
  EXPECT_TRUE(IsError(epoch, 422, "invalid", "joined_date"));
  ASSERT_TRUE(HasStatus(in_range, 201));
  EXPECT_EQ(Str(in_range.json, "joined_date"), "2200-01-01T00:00:00.000Z");
  EXPECT_EQ(UsidOf("user_id", "far-1"), "<none>");
}

TEST_F(ReviewBreakTest, IngestedTimeOutsideTheRangeFallsBackToTheReceiveTime) {
  int64_t before = NowMillis();
  HttpResponse r = Send(
      kSegment, json::array{json::object{{"type", "track"},
                                         {"userId", "far-t"},
                                         {"event", "Far"},
                                         {"messageId", "far-ts"},
                                         {"timestamp", "9999-12-31T00:00:00Z"}},
                            json::object{{"type", "identify"},
                                         {"userId", "far-t"},
                                         {"messageId", "far-trait"},
                                         {"traits", json::object{{"createdAt", "2500-01-01"}}}}});
  int64_t after = NowMillis();

  ASSERT_TRUE(IsIngestAnswer(r, 2, 0));
  std::map<std::string, json::object> events = EventsById();
  ASSERT_EQ(events.count("far-ts"), 1u);
  auto at = ParseIsoMillis(Str(events["far-ts"], "timestamp"));
  ASSERT_TRUE(at.has_value()) << json::serialize(events["far-ts"]);
  EXPECT_GE(*at, before);
  EXPECT_LE(*at, after);
  HttpResponse profile = Lookup("user_id", "far-t");
  ASSERT_TRUE(HasStatus(profile, 200));
  EXPECT_TRUE(IsNullMember(profile.json, "joined_date")) << profile.body;
  bool fallback = false;
  bool dropped = false;
  for (const auto& e : IngestionErrors()) {
    fallback = fallback || Str(e, "kind") == "time_fallback";
    dropped = dropped || Str(e, "kind") == "attribute_dropped";
  }
  EXPECT_TRUE(fallback) << "the unusable timestamp is noted in the ingestion error log";
  EXPECT_TRUE(dropped) << "the unusable createdAt is noted in the ingestion error log";
}

TEST_F(ReviewBreakTest, SegmentConditionWithATimeOutsideTheRangeIs422) {
  json::object conditions{{"event", "x"},
                          {"between", json::array{"9999-01-01T00:00:00Z", "9999-02-01T00:00:00Z"}}};

  HttpResponse r = http_->Post("/api/v1/segments",
                               json::object{{"name", "far"}, {"conditions", conditions}}, key());

  EXPECT_TRUE(IsError(r, 422, "invalid"));
}

// SPEC, Management API: an unknown id is 404. The customer list filtered by an unknown segment
// answered 200 with an empty list, which cannot be told apart from an empty segment.
TEST_F(ReviewBreakTest, CustomerListOfAnUnknownSegmentIs404) {
  CreateCustomer({{"user_id", "seg-less"}});

  HttpResponse r = http_->Get("/api/v1/customers?segment_id=seg_nope", key());

  EXPECT_TRUE(IsError(r, 404, "not_found"));
}

// The Customer API takes user and anonymous ids of 1 to 256 characters; ingestion took any
// length, making profiles whose user_id the Customer API refuses (and, over 16 KiB, that no
// lookup can name).
TEST_F(ReviewBreakTest, IngestedIdsLongerThanTheCustomerApiTakesAreRejected) {
  std::string longest(256, 'u');
  std::string too_long(257, 'x');
  json::array batch{
      json::object{{"type", "track"}, {"userId", too_long}, {"event", "Clicked"}},
      json::object{{"type", "track"}, {"anonymousId", too_long}, {"event", "Clicked"}},
      json::object{{"type", "alias"}, {"userId", "long-alias"}, {"previousId", too_long}},
      json::object{{"type", "track"}, {"userId", longest}, {"event", "Clicked"}}};

  HttpResponse r = Send(kSegment, batch);

  EXPECT_TRUE(IsIngestAnswer(r, 1, 0, {0, 1, 2}));
  HttpResponse api = http_->Post("/api/v1/customers", json::object{{"user_id", too_long}}, key());
  EXPECT_TRUE(IsError(api, 422, "invalid", "user_id"));
  EXPECT_NE(UsidOf("user_id", longest), "<none>");
  EXPECT_EQ(UsidOf("user_id", "long-alias"), "<none>");
  HttpResponse list = http_->Get("/api/v1/customers", key());
  ASSERT_TRUE(HasStatus(list, 200));
  EXPECT_EQ(DataOf(list).size(), 1u) << list.body;
}

// SPEC, Events: a message whose messageId the project has seen is acknowledged and not applied
// again, however often it is retried. Deleting the customer removed the ids with the events, so
// a retry (Segment retries for hours) made the deleted profile again.
TEST_F(ReviewBreakTest, RetriedMessageOfADeletedCustomerStaysADuplicate) {
  json::object track{
      {"type", "track"}, {"userId", "gone-1"}, {"event", "Clicked"}, {"messageId", "gone-m1"}};
  ASSERT_TRUE(IsIngestAnswer(Send(kSegment, track), 1, 0));
  std::string usid = UsidOf("user_id", "gone-1");
  ASSERT_TRUE(HasStatus(http_->Delete("/api/v1/customers/" + usid, key()), 200));

  HttpResponse retried = Send(kSegment, track);

  EXPECT_TRUE(IsIngestAnswer(retried, 0, 1));
  EXPECT_EQ(UsidOf("user_id", "gone-1"), "<none>");
  EXPECT_TRUE(AllEvents().empty());
  RestartServer();
  EXPECT_TRUE(IsIngestAnswer(Send(kSegment, track), 0, 1));
  EXPECT_EQ(UsidOf("user_id", "gone-1"), "<none>");
}

}  // namespace
}  // namespace xoal::testing
