#include "integration/segments_fixture.hpp"

#include <algorithm>
#include <thread>

#include "common/time_format.hpp"

namespace xoal::testing {
namespace {

using SteadyClock = std::chrono::steady_clock;

int64_t NowMsOf(const HttpResponse& r) {
  EXPECT_TRUE(HasStatus(r, 200));
  auto ms = EpochMsOf(Str(r.json, "now"));
  EXPECT_TRUE(ms.has_value()) << ::testing::PrintToString(r);
  return ms.value_or(0);
}

}  // namespace

std::optional<int64_t> EpochMsOf(std::string_view iso) {
  auto t = ParseIsoTime(iso);
  if (!t) return std::nullopt;
  return ToEpochMillis(*t);
}

std::string IsoOf(int64_t epoch_ms) { return FormatIsoTime(FromEpochMillis(epoch_ms)); }

void SegmentsTest::SetUp() {
  if (UseTestClock()) xoal_.set_serve_flags({"--test-clock"});
  XoalTest::SetUp();
}

std::string SegmentsTest::CreateSegment(const json::object& body) {
  HttpResponse r = http_->Post("/api/v1/segments", body, key());
  EXPECT_TRUE(HasStatus(r, 201)) << json::serialize(body);
  return Str(r.json, "id");
}

std::string SegmentsTest::CreateDynamic(const std::string& name, const json::value& conditions) {
  return CreateSegment({{"name", name}, {"type", "dynamic"}, {"conditions", conditions}});
}

std::string SegmentsTest::CreateManual(const std::string& name) {
  return CreateSegment({{"name", name}, {"type", "manual"}});
}

::testing::AssertionResult SegmentsTest::WaitReady(const std::string& id) {
  auto deadline = SteadyClock::now() + kWaitLimit;
  HttpResponse r;
  while (SteadyClock::now() < deadline) {
    r = http_->Get("/api/v1/segments/" + id, key());
    if (r.status != 200) break;
    if (Str(r.json, "status") == "ready") return ::testing::AssertionSuccess();
    std::this_thread::sleep_for(kPollInterval);
  }
  return ::testing::AssertionFailure()
         << "segment " << id << " not ready in time: " << ::testing::PrintToString(r);
}

std::string SegmentsTest::ReadyDynamic(const std::string& name, const json::value& conditions) {
  std::string id = CreateDynamic(name, conditions);
  EXPECT_TRUE(WaitReady(id));
  return id;
}

std::vector<std::string> SegmentsTest::Members(const std::string& id) {
  std::vector<std::string> out;
  std::string cursor;
  for (int page = 0; page < 1000; ++page) {
    std::string target = "/api/v1/segments/" + id + "/customers?limit=100";
    if (!cursor.empty()) target += "&cursor=" + UrlEncode(cursor);
    HttpResponse r = http_->Get(target, key());
    EXPECT_TRUE(HasStatus(r, 200));
    if (r.status != 200) break;
    for (auto& usid : Column(r, "usid")) out.push_back(usid);
    const json::value* next = Member(r.json, "next_cursor");
    if (next == nullptr || !next->is_string()) break;
    cursor = std::string(next->get_string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> SegmentsTest::SegmentsOf(const std::string& usid) {
  HttpResponse r = http_->Get("/api/v1/customers/" + usid + "/segments", key());
  EXPECT_TRUE(HasStatus(r, 200));
  std::vector<std::string> out = Column(r, "id");
  std::sort(out.begin(), out.end());
  return out;
}

bool SegmentsTest::IsMember(const std::string& segment_id, const std::string& usid) {
  auto ids = SegmentsOf(usid);
  return std::find(ids.begin(), ids.end(), segment_id) != ids.end();
}

::testing::AssertionResult SegmentsTest::WaitMembership(const std::string& segment_id,
                                                        const std::string& usid, bool expected) {
  auto deadline = SteadyClock::now() + kWaitLimit;
  while (SteadyClock::now() < deadline) {
    if (IsMember(segment_id, usid) == expected) return ::testing::AssertionSuccess();
    std::this_thread::sleep_for(kPollInterval);
  }
  return ::testing::AssertionFailure() << usid << (expected ? " never entered " : " never left ")
                                       << segment_id;
}

std::optional<json::object> SegmentsTest::LastChange(const std::string& segment_id,
                                                     const std::string& usid,
                                                     std::string_view change) {
  HttpResponse r = http_->Get("/api/v1/segments/" + segment_id + "/history?limit=1000", key());
  EXPECT_TRUE(HasStatus(r, 200));
  for (const auto& item : DataOf(r)) {  // newest first
    if (Str(item, "usid") == usid && Str(item, "change") == change) return item.as_object();
  }
  return std::nullopt;
}

int64_t SegmentsTest::ClockNow() { return NowMsOf(http_->Post("/_test/clock", json::object{})); }

int64_t SegmentsTest::AdvanceClock(int64_t ms) {
  return NowMsOf(http_->Post("/_test/clock", json::object{{"advance_ms", ms}}));
}

int64_t SegmentsTest::SetClock(int64_t epoch_ms) {
  return NowMsOf(http_->Post("/_test/clock", json::object{{"set", IsoOf(epoch_ms)}}));
}

void SegmentsTest::IngestSegment(const json::value& message) {
  HttpResponse r = http_->Post("/ingest/v1/segment/event", message, alpha_.ingestion_key);
  ASSERT_TRUE(HasStatus(r, 200));
  EXPECT_EQ(JsonAt(r.json, "/rejected"), "[]") << r.body;
}

void SegmentsTest::PutAttributes(const std::string& usid, const json::object& attributes) {
  HttpResponse r = http_->Put("/api/v1/customers/" + usid + "/attributes",
                              json::object{{"attributes", attributes}}, key());
  ASSERT_TRUE(HasStatus(r, 200));
}

}  // namespace xoal::testing
