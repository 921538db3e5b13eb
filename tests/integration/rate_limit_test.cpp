// The per-project ingestion rate limit: 429 with Retry-After once the bucket is empty, other
// projects unaffected, and the setting validated.
#include "integration/integration_fixture.hpp"

namespace xoal::testing {
namespace {

class RateLimitTest : public XoalTest {
 protected:
  // Limits alpha to `burst` requests, then one a minute: slow enough that no machine refills the
  // bucket between two requests of a test.
  void LimitToOneAMinute(int burst) {
    ASSERT_TRUE(HasStatus(
        http_->Patch("/api/v1/project",
                     json::object{{"ingest_rate_limit",
                                   {{"requests_per_second", 1.0 / 60}, {"burst", burst}}}},
                     key()),
        200));
  }

  HttpResponse Track(const std::string& ingestion_key, int i) {
    return http_->Post(
        "/ingest/v1/event",
        json::object{{"event", "ping"}, {"properties", {{"userId", "u-" + std::to_string(i)}}}},
        ingestion_key);
  }
};

TEST_F(RateLimitTest, RequestsOverTheBurstAre429WithRetryAfter) {
  // One request a minute with a burst of 2: the third request inside a minute must be refused,
  // whatever the speed of this machine.
  LimitToOneAMinute(2);

  EXPECT_TRUE(HasStatus(Track(alpha_.ingestion_key, 1), 200));
  EXPECT_TRUE(HasStatus(Track(alpha_.ingestion_key, 2), 200));
  HttpResponse refused = Track(alpha_.ingestion_key, 3);

  EXPECT_TRUE(IsError(refused, 429, "rate_limited"));
  std::string retry_after = refused.Header("retry-after");
  ASSERT_FALSE(retry_after.empty()) << refused.body;
  EXPECT_GE(std::stoi(retry_after), 1);
  // The refused message was not applied.
  EXPECT_TRUE(IsError(http_->Get("/api/v1/customers/lookup?user_id=u-3", key()), 404, "not_found"));
}

TEST_F(RateLimitTest, OtherProjectsAndManagementCallsAreNotLimited) {
  ProjectKeys beta = xoal_.CreateProject("beta");
  LimitToOneAMinute(1);
  ASSERT_TRUE(HasStatus(Track(alpha_.ingestion_key, 1), 200));
  ASSERT_TRUE(IsError(Track(alpha_.ingestion_key, 2), 429, "rate_limited"));

  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(HasStatus(Track(beta.ingestion_key, i), 200)) << i;
  }
  EXPECT_TRUE(HasStatus(http_->Get("/api/v1/project", key()), 200));
}

TEST_F(RateLimitTest, ClearingTheLimitLiftsIt) {
  LimitToOneAMinute(1);
  ASSERT_TRUE(HasStatus(Track(alpha_.ingestion_key, 1), 200));
  ASSERT_TRUE(IsError(Track(alpha_.ingestion_key, 2), 429, "rate_limited"));

  ASSERT_TRUE(HasStatus(
      http_->Patch("/api/v1/project", json::object{{"ingest_rate_limit", nullptr}}, key()), 200));

  EXPECT_TRUE(HasStatus(Track(alpha_.ingestion_key, 3), 200));
}

TEST_F(RateLimitTest, InvalidLimitsAre422NamingTheField) {
  EXPECT_TRUE(IsError(
      http_->Patch("/api/v1/project",
                   json::object{{"ingest_rate_limit", {{"requests_per_second", 0}}}}, key()),
      422, "invalid", "ingest_rate_limit.requests_per_second"));
  EXPECT_TRUE(IsError(
      http_->Patch(
          "/api/v1/project",
          json::object{{"ingest_rate_limit", {{"requests_per_second", 5}, {"burst", "x"}}}}, key()),
      422, "invalid", "ingest_rate_limit.burst"));
  EXPECT_TRUE(
      IsError(http_->Patch("/api/v1/project", json::object{{"ingest_rate_limit", "fast"}}, key()),
              422, "invalid", "ingest_rate_limit"));
}

}  // namespace
}  // namespace xoal::testing
