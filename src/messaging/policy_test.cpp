#include "messaging/policy.hpp"

#include <gtest/gtest.h>

#include "common/time_format.hpp"

namespace xoal::messaging {
namespace {

SystemTime At(const char* iso) { return *ParseIsoTime(iso); }

PolicyFacts Marketing(const char* now_iso, const char* zone = "UTC") {
  PolicyFacts f;
  f.channel = Channel::kEmail;
  f.address = "ann@example.com";
  f.zone = zone;
  f.now = At(now_iso);
  return f;
}

// A counter that answers `n` and remembers the day it was asked about.
struct Counter {
  int64_t n = 0;
  SystemTime from{}, to{};
  std::function<Result<int64_t>(SystemTime, SystemTime)> fn() {
    return [this](SystemTime a, SystemTime b) -> Result<int64_t> {
      from = a;
      to = b;
      return n;
    };
  }
};

Decision DecideOk(const PolicyFacts& f, Counter* c = nullptr) {
  Counter none;
  auto d = Decide(f, (c ? c : &none)->fn());
  EXPECT_TRUE(d.ok()) << d.status().message();
  return *d;
}

TEST(SkipReasonTest, NamesRoundTrip) {
  for (SkipReason r : kAllSkipReasons) EXPECT_EQ(ParseSkipReason(SkipReasonName(r)), r);
  EXPECT_EQ(SkipReasonName(SkipReason::kFrequencyCap), "frequency_cap");
  EXPECT_FALSE(ParseSkipReason("bounced"));
}

TEST(PolicyTest, ChecksInOrderNoAddressSuppressedUnsubscribed) {
  PolicyFacts f = Marketing("2026-03-02T12:00:00Z");
  f.address.clear();
  f.suppressed = true;
  f.subscribed = false;
  EXPECT_EQ(DecideOk(f).reason, SkipReason::kNoAddress);
  f.address = "ann@example.com";
  EXPECT_EQ(DecideOk(f).reason, SkipReason::kSuppressed);
  f.suppressed = false;
  EXPECT_EQ(DecideOk(f).reason, SkipReason::kUnsubscribed);
  f.subscribed = true;
  EXPECT_TRUE(DecideOk(f).send());
}

TEST(PolicyTest, TransactionalIgnoresOptOutsCapAndQuietHoursButNotSuppression) {
  PolicyFacts f = Marketing("2026-03-02T23:00:00Z");
  f.transactional = true;
  f.subscribed = false;
  f.settings.per_day = 1;
  f.settings.quiet_hours = core::QuietHours{21 * 60, 8 * 60, true};
  Counter full{5};
  EXPECT_TRUE(DecideOk(f, &full).send());
  f.suppressed = true;
  EXPECT_EQ(DecideOk(f).reason, SkipReason::kSuppressed);
}

TEST(PolicyTest, WebhooksAreNeverChecked) {
  PolicyFacts f = Marketing("2026-03-02T23:00:00Z");
  f.channel = Channel::kWebhook;
  f.address.clear();
  f.subscribed = false;
  f.settings.quiet_hours = core::QuietHours{21 * 60, 8 * 60, false};
  EXPECT_TRUE(DecideOk(f).send());
}

TEST(PolicyTest, QuietHoursHoldUntilTheLocalWindowEnds) {
  // 22:30 in Lagos (UTC+1) is 21:30 UTC: inside 21:00-08:00, held to 08:00 Lagos next day.
  PolicyFacts f = Marketing("2026-03-02T21:30:00Z", "Africa/Lagos");
  f.settings.quiet_hours = core::QuietHours{21 * 60, 8 * 60, true};
  Decision d = DecideOk(f);
  EXPECT_TRUE(d.hold());
  EXPECT_EQ(d.reason, SkipReason::kQuietHours);
  EXPECT_EQ(FormatIsoTime(d.send_at), "2026-03-03T07:00:00.000Z");
  // 05:00 Lagos, the morning part of the window: held to 08:00 the same day.
  f.now = At("2026-03-03T04:00:00Z");
  EXPECT_EQ(FormatIsoTime(DecideOk(f).send_at), "2026-03-03T07:00:00.000Z");
  // 08:00 Lagos exactly: the window has ended.
  f.now = At("2026-03-03T07:00:00Z");
  EXPECT_TRUE(DecideOk(f).send());
  // The same instant in Tokyo (UTC+9) is 16:00: outside.
  f.zone = "Asia/Tokyo";
  EXPECT_TRUE(DecideOk(f).send());
}

TEST(PolicyTest, QuietHoursSkipModeAndAWindowWithinOneDay) {
  PolicyFacts f = Marketing("2026-03-02T13:15:00Z", "America/New_York");  // 08:15 in New York
  f.settings.quiet_hours = core::QuietHours{8 * 60, 9 * 60, false};
  EXPECT_EQ(DecideOk(f).reason, SkipReason::kQuietHours);
  EXPECT_TRUE(DecideOk(f).skip());
  f.now = At("2026-03-02T14:00:00Z");  // 09:00
  EXPECT_TRUE(DecideOk(f).send());
}

TEST(PolicyTest, FrequencyCapCountsTheLocalDayOfTheSend) {
  // 23:30 on March 2 in Los Angeles (UTC-8) is 07:30 UTC on March 3.
  PolicyFacts f = Marketing("2026-03-03T07:30:00Z", "America/Los_Angeles");
  f.settings.per_day = 2;
  Counter c{1};
  EXPECT_TRUE(DecideOk(f, &c).send());
  EXPECT_EQ(FormatIsoTime(c.from), "2026-03-02T08:00:00.000Z");
  EXPECT_EQ(FormatIsoTime(c.to), "2026-03-03T08:00:00.000Z");
  c.n = 2;
  EXPECT_EQ(DecideOk(f, &c).reason, SkipReason::kFrequencyCap);
  // A held message counts on the day it will go out.
  f.settings.quiet_hours = core::QuietHours{22 * 60, 7 * 60, true};
  c.n = 0;
  Decision d = DecideOk(f, &c);
  EXPECT_TRUE(d.hold());
  EXPECT_EQ(FormatIsoTime(d.send_at), "2026-03-03T15:00:00.000Z");  // 07:00 on March 3
  EXPECT_EQ(FormatIsoTime(c.from), "2026-03-03T08:00:00.000Z");
}

TEST(PolicyTest, LocalDaysFollowDaylightSavingChanges) {
  // New York springs forward on 2026-03-08: that local day has 23 hours.
  PolicyFacts f = Marketing("2026-03-08T12:00:00Z", "America/New_York");
  f.settings.per_day = 1;
  Counter c{0};
  DecideOk(f, &c);
  EXPECT_EQ(FormatIsoTime(c.from), "2026-03-08T05:00:00.000Z");
  EXPECT_EQ(FormatIsoTime(c.to), "2026-03-09T04:00:00.000Z");
}

TEST(PolicyTest, AddressesAndZones) {
  store::Customer c;
  c.attributes["timezone"] = "Not/AZone";
  EXPECT_EQ(NormalizeAddress(Channel::kSms, "+1 (555) 222-3333"), "+15552223333");
  EXPECT_EQ(NormalizeAddress(Channel::kEmail, " Ann@Example.COM "), "ann@example.com");
  core::MessagingSettings s;
  s.timezone = "Europe/Paris";
  EXPECT_EQ(LocalZoneName(c, s), "Europe/Paris");
  c.attributes["timezone"] = "Asia/Tokyo";
  EXPECT_EQ(LocalZoneName(c, s), "Asia/Tokyo");
}

}  // namespace
}  // namespace xoal::messaging
