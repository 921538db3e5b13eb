// /healthz, /metrics, unknown routes and methods, and the server's process contract.
#include <regex>

#include "integration/integration_fixture.hpp"

namespace xoal::testing {
namespace {

using HealthTest = XoalTest;

TEST_F(HealthTest, HealthzAnswersOkWithoutKey) {
  HttpResponse r = http_->Get("/healthz");

  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_EQ(Str(r.json, "status"), "ok");
}

TEST_F(HealthTest, MetricsCountRequestsInPrometheusTextFormat) {
  ASSERT_TRUE(HasStatus(http_->Get("/healthz"), 200));
  ASSERT_TRUE(HasStatus(http_->Get("/api/v1/project", key()), 200));
  ASSERT_EQ(http_->Get("/api/v1/project").status, 401);

  HttpResponse r = http_->Get("/metrics");

  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_NE(r.Header("content-type").find("text/plain"), std::string::npos)
      << r.Header("content-type");
  // One sample line per route, method and status, with a count of at least 1.
  std::regex sample(R"(xoal_http_requests_total\{[^}]*\} [1-9][0-9]*)");
  EXPECT_TRUE(std::regex_search(r.body, sample)) << r.body;
  std::regex status_401(R"(xoal_http_requests_total\{[^}]*status="401"[^}]*\} [1-9])");
  EXPECT_TRUE(std::regex_search(r.body, status_401)) << r.body;
  EXPECT_NE(r.body.find("xoal_http_request_duration_seconds"), std::string::npos);
}

TEST_F(HealthTest, UnknownRouteIs404NotFound) {
  EXPECT_TRUE(IsError(http_->Get("/no/such/route"), 404, "not_found"));
  EXPECT_TRUE(IsError(http_->Get("/api/v1/no-such-thing", key()), 404, "not_found"));
}

TEST_F(HealthTest, KnownRouteWithOtherMethodIs405) {
  HttpResponse r =
      http_->Request("PUT", "/api/v1/project", "{}",
                     {{"Authorization", "Bearer " + key()}, {"Content-Type", "application/json"}});

  EXPECT_TRUE(IsError(r, 405, "method_not_allowed"));
}

TEST_F(HealthTest, KeepAliveConnectionServesManyRequests) {
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(HasStatus(http_->Get("/healthz"), 200)) << "request " << i;
  }

  EXPECT_TRUE(http_->last_request_reused_connection());
}

TEST_F(HealthTest, SigtermStopsServerWithExitCodeZero) {
  ASSERT_TRUE(HasStatus(http_->Get("/healthz"), 200));

  EXPECT_EQ(xoal_.Stop(), 0) << xoal_.StderrTail();
}

// On an empty data dir `serve` creates a first project and prints its two keys once (SPEC,
// Running it). The keys must work.
TEST(FirstServeTest, EmptyDataDirCreatesFirstProjectAndPrintsWorkingKeys) {
  XoalProcess xoal(XOAL_BINARY);
  ASSERT_TRUE(xoal.Start());
  std::smatch sk;
  std::smatch ing;
  const std::string& out = xoal.startup_output();

  ASSERT_TRUE(std::regex_search(out, sk, std::regex("sk_[a-z0-9]{32}"))) << out;
  ASSERT_TRUE(std::regex_search(out, ing, std::regex("ing_[a-z0-9]{32}"))) << out;
  HttpClient http("127.0.0.1", xoal.port());
  HttpResponse r = http.Get("/api/v1/project", sk.str());

  EXPECT_TRUE(HasStatus(r, 200));
  EXPECT_EQ(xoal.Stop(), 0);
  // Started again on the same dir, it makes no second project and prints no keys.
  ASSERT_TRUE(xoal.Start());
  EXPECT_EQ(xoal.startup_output().find("sk_"), std::string::npos) << xoal.startup_output();
}

}  // namespace
}  // namespace xoal::testing
