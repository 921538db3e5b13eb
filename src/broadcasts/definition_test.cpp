#include "broadcasts/definition.hpp"

#include <gtest/gtest.h>

#include "common/time_format.hpp"

namespace xoal::broadcasts {
namespace {

using std::chrono::minutes;

date::local_seconds Local(int y, unsigned m, unsigned d, int h, int min) {
  return date::local_days(date::year(y) / m / d) + std::chrono::hours(h) + minutes(min);
}

std::string Iso(SystemTime t) { return FormatIsoTime(t); }

// Review 5: the API refuses a message member the channel does not read (BroadcastEngine checks it
// when a broadcast is saved), but a stored definition is parsed without that check, so a
// broadcast saved before it still sends after an upgrade.
TEST(BroadcastDefinitionTest, StoredDefinitionWithAnUnknownMessageMemberStillParses) {
  json::object body{{"name", "n"},
                    {"segment_id", "seg_1"},
                    {"channel", "email"},
                    {"message", json::object{{"subject", "s"}, {"text", "t"}, {"reply_to", "x"}}}};

  auto def = ParseDefinition(body);

  ASSERT_TRUE(def.ok()) << def.status().message();
  EXPECT_EQ(def->message.at("reply_to").as_string(), "x");
}

TEST(BroadcastScheduleTest, LocalTimeInEachZone) {
  auto nine = Local(2026, 12, 24, 9, 0);
  EXPECT_EQ(Iso(LocalInstant(nine, FindZone("Pacific/Auckland"))), "2026-12-23T20:00:00.000Z");
  EXPECT_EQ(Iso(LocalInstant(nine, FindZone("America/Los_Angeles"))), "2026-12-24T17:00:00.000Z");
  EXPECT_EQ(Iso(LocalInstant(nine, nullptr)), "2026-12-24T09:00:00.000Z");
}

TEST(BroadcastScheduleTest, GapMeansTheEndOfTheGapAndAmbiguousTheEarlierInstant) {
  const date::time_zone* la = FindZone("America/Los_Angeles");
  // 2026-03-08 02:30 does not exist in Los Angeles; clocks jump from 02:00 PST to 03:00 PDT.
  EXPECT_EQ(Iso(LocalInstant(Local(2026, 3, 8, 2, 30), la)), "2026-03-08T10:00:00.000Z");
  // 2026-11-01 01:30 happens twice; the first is PDT (UTC-7).
  EXPECT_EQ(Iso(LocalInstant(Local(2026, 11, 1, 1, 30), la)), "2026-11-01T08:30:00.000Z");
}

TEST(BroadcastScheduleTest, StartsWhenTheFirstZoneReachesTheTime) {
  auto s = ParseSchedule(json::parse(R"({"local_time": "09:00", "date": "2026-12-24"})"));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(Iso(StartOf(*s)), "2026-12-23T19:00:00.000Z");
  EXPECT_EQ(Iso(LastDueOf(*s)), "2026-12-24T21:00:00.000Z");
  auto at = ParseSchedule(json::parse(R"({"at": "2026-12-24T09:00:00Z"})"));
  ASSERT_TRUE(at.ok());
  EXPECT_EQ(Iso(StartOf(*at)), "2026-12-24T09:00:00.000Z");
}

TEST(BroadcastScheduleTest, RejectsMalformedSchedulesNamingTheMember) {
  auto field = [](std::string_view text) {
    return ParseSchedule(json::parse(text)).status().field();
  };
  EXPECT_EQ(field(R"({"local_time": "9:00", "date": "2026-12-24"})"), "schedule.local_time");
  EXPECT_EQ(field(R"({"local_time": "09:00", "date": "2026-02-30"})"), "schedule.date");
  EXPECT_EQ(field(R"({"local_time": "09:00"})"), "schedule.date");
  EXPECT_EQ(field(R"({"at": "soon"})"), "schedule.at");
  EXPECT_EQ(field(R"("tomorrow")"), "schedule");
}

TEST(BroadcastThrottleTest, WindowsAreWholeMinutesFromTheStart) {
  SystemTime start = FromEpochMillis(1'000'000);
  ThrottleWindow stored{start, 4};
  EXPECT_EQ(CurrentWindow(start, stored, start + std::chrono::seconds(59)).used, 4);
  ThrottleWindow later = CurrentWindow(start, stored, start + minutes(3) + std::chrono::seconds(5));
  EXPECT_EQ(later.start, start + minutes(3));
  EXPECT_EQ(later.used, 0);
}

}  // namespace
}  // namespace xoal::broadcasts
